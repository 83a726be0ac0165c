"""The OpenAI wire format, read raw over HTTP."""

from __future__ import annotations

import itertools
import json
from typing import Any

import anyio
import httpx
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.model_server import Reply, ScriptedModelServer, ToolCall

from .conftest import Chat

pytestmark = pytest.mark.anyio


async def test_streamed_text_with_usage(server: ScriptedModelServer, chat: Chat) -> None:
    server.append(Reply(text="Hello there, world!"))
    exchange = await chat(stream_options={"include_usage": True})

    assert exchange.status == 200
    assert exchange.headers["content-type"].startswith("text/event-stream")
    assert exchange.done
    chunks = exchange.chunks
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert {c["model"] for c in chunks} == {"tide-scripted"}
    assert all(isinstance(c["created"], int) for c in chunks)
    assert exchange.deltas[0]["role"] == "assistant"
    assert all("role" not in delta for delta in exchange.deltas[1:])
    assert [d["content"] for d in exchange.deltas] == ["Hello", " there", ",", " world", "!"]
    assert exchange.finish_reasons == ["stop"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert exchange.usage == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    text=st.text()
    | st.lists(
        st.sampled_from(["[[ ## answer ## ]]", "```py", "\\", '"', "\n", " ", "é", "👍🏽", "ab"])
    ).map("".join)
)
async def test_any_text_survives_the_wire(
    server: ScriptedModelServer, chat: Chat, text: str
) -> None:
    server.append(Reply(text=text))
    streamed = await chat()
    assert streamed.text == text
    server.append(Reply(text=text))
    whole = await chat(stream=False)
    assert whole.json()["choices"][0]["message"]["content"] == text


async def test_no_usage_chunk_unless_asked(server: ScriptedModelServer, chat: Chat) -> None:
    exchange = await chat()
    assert exchange.usage is None
    assert exchange.done
    assert all(c["choices"] for c in exchange.chunks)


async def test_default_answer_is_prose_about_the_question(chat: Chat) -> None:
    first = await chat(
        "Describe the migration of Arctic terns", stream_options={"include_usage": True}
    )
    again = await chat("Describe the migration of Arctic terns")
    assert first.text == again.text
    assert "terns" in first.text or "Arctic" in first.text or "migration" in first.text
    usage = first.usage
    assert usage is not None
    assert usage["completion_tokens"] == len(first.deltas)
    assert 40 <= usage["completion_tokens"] <= 100


async def test_max_tokens_cuts_the_answer_with_length(
    server: ScriptedModelServer, chat: Chat
) -> None:
    server.append(Reply(text="one two three four five six"))
    cut = await chat(max_tokens=4, stream_options={"include_usage": True})
    assert cut.text == "one two three four"
    assert cut.finish_reasons == ["length"]
    assert cut.usage is not None and cut.usage["completion_tokens"] == 4

    default = await chat(max_completion_tokens=10, stream=False)
    assert default.json()["usage"]["completion_tokens"] == 10
    assert default.json()["choices"][0]["finish_reason"] == "length"


async def test_non_streaming_completion(server: ScriptedModelServer, chat: Chat) -> None:
    server.append(Reply(text="Plain answer."))
    exchange = await chat(stream=False)
    body = exchange.json()
    assert exchange.headers["content-type"] == "application/json"
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Plain answer.",
        "refusal": None,
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}


async def test_tool_calls_stream_like_openai(server: ScriptedModelServer, chat: Chat) -> None:
    server.append(
        Reply(
            text="Let me look.",
            tool_calls=[
                ToolCall(name="get_weather", arguments={"city": "Oslo", "unit": "celsius"}),
                ToolCall(name="search", arguments='{"q": "fjords"}', id="call_custom"),
            ],
        )
    )
    exchange = await chat(stream_options={"include_usage": True})

    assert exchange.text == "Let me look."
    call_deltas = [d["tool_calls"][0] for d in exchange.deltas if "tool_calls" in d]
    heads = [d for d in call_deltas if "id" in d]
    assert [(h["index"], h["type"], h["function"]) for h in heads] == [
        (0, "function", {"name": "get_weather", "arguments": ""}),
        (1, "function", {"name": "search", "arguments": ""}),
    ]
    assert heads[1]["id"] == "call_custom"
    arguments = ["", ""]
    for delta in call_deltas:
        assert set(delta["function"]) <= {"name", "arguments"}
        arguments[delta["index"]] += delta["function"]["arguments"]
    assert json.loads(arguments[0]) == {"city": "Oslo", "unit": "celsius"}
    assert arguments[1] == '{"q": "fjords"}'
    assert sum(1 for d in call_deltas if d["index"] == 0 and "id" not in d) > 3
    assert exchange.finish_reasons == ["tool_calls"]
    assert exchange.usage is not None
    assert exchange.usage["completion_tokens"] == len(exchange.deltas)


async def test_tool_calls_without_streaming(server: ScriptedModelServer, chat: Chat) -> None:
    server.append(Reply(tool_calls=[ToolCall(name="add", arguments={"a": 1, "b": 2})]))
    body = (await chat(stream=False)).json()
    message = body["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [
        {
            "id": "call_0_0",
            "type": "function",
            "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
        }
    ]
    assert body["choices"][0]["finish_reason"] == "tool_calls"


async def test_json_reply_is_sent_as_json_text_in_pieces(
    server: ScriptedModelServer, chat: Chat
) -> None:
    data = {"answer": "Paris", "sources": ["atlas", "wiki"], "score": 0.9, "note": None}
    server.append(Reply(json=data), Reply(json=None))
    exchange = await chat()
    assert json.loads(exchange.text) == data
    assert len(exchange.deltas) > 5
    assert (await chat()).text == "null"


async def test_json_schema_without_script_gets_a_valid_value(chat: Chat) -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "year": {"type": "integer", "minimum": 1900, "maximum": 2030},
            "genres": {"type": "array", "items": {"enum": ["drama", "comedy"]}},
            "rating": {"type": "number"},
            "seen": {"type": "boolean"},
        },
        "required": ["title", "year", "genres", "rating", "seen"],
        "additionalProperties": False,
    }
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "Film", "schema": schema, "strict": True},
    }
    for stream in (True, False):
        exchange = await chat("Recommend a film", response_format=response_format, stream=stream)
        text = exchange.text if stream else exchange.json()["choices"][0]["message"]["content"]
        jsonschema.validate(json.loads(text), schema)


async def test_json_object_mode_without_script_gets_an_object(chat: Chat) -> None:
    exchange = await chat("Reply in JSON", response_format={"type": "json_object"})
    assert isinstance(json.loads(exchange.text), dict)


async def test_long_repetitive_text_never_repeats_a_chunk_100_times(
    server: ScriptedModelServer, chat: Chat
) -> None:
    server.append(Reply(text="ha " * 1000))
    exchange = await chat()
    assert exchange.text == "ha " * 1000
    contents = [d.get("content") for d in exchange.deltas]
    run = longest = 1
    for previous, current in itertools.pairwise(contents):
        run = run + 1 if current == previous else 1
        longest = max(longest, run)
    assert longest < 100


async def test_exact_token_count_reply(server: ScriptedModelServer, chat: Chat) -> None:
    server.append(Reply(tokens=2000))
    exchange = await chat(stream_options={"include_usage": True})
    assert len(exchange.deltas) == 2000
    assert exchange.usage is not None and exchange.usage["completion_tokens"] == 2000
    assert len(set(d["content"] for d in exchange.deltas)) > 50


async def test_models_are_listed(server: ScriptedModelServer, http: httpx.AsyncClient) -> None:
    server.append(Reply(text="judged"), model="judge")
    body = (await http.get("/v1/models")).json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["judge", "tide-scripted"]
    assert all(m["object"] == "model" for m in body["data"])


@pytest.mark.parametrize(
    "body", [b"not json", b'{"messages": []}', b'{"model": "m", "messages": 3}']
)
async def test_invalid_requests_get_an_openai_style_400(
    http: httpx.AsyncClient, body: bytes
) -> None:
    response = await http.post("/v1/chat/completions", content=body)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_concurrent_streams_are_answered_independently(
    server: ScriptedModelServer, chat: Chat
) -> None:
    server.tokens_per_second = 100
    server.append(Reply(match="x", tokens=30, repeat=True))
    texts: list[str] = []

    async def one(n: int) -> None:
        texts.append((await chat(f"x {n}")).text)

    async with anyio.create_task_group() as tasks:
        for n in range(20):
            tasks.start_soon(one, n)
    assert len(texts) == 20 and all(texts)
    assert all(s.completed and s.tokens_sent == 30 for s in server.streams)
    starts = [s.first_content_at for s in server.streams if s.first_content_at is not None]
    ends = [s.last_byte_at for s in server.streams if s.last_byte_at is not None]
    assert len(starts) == len(ends) == 20
    # Paced streams run side by side: every one has started before any has finished.
    assert max(starts) < min(ends)
