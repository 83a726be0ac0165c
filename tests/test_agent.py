"""The agent loop, driven by a FunctionModel: streaming, tools, structured output, limits, retries,
failures and accounting."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime import MemoryHandler, Runtime, RuntimeConfig
from runtime.models import (
    Finish,
    FunctionModel,
    ModelError,
    ModelItem,
    ModelRequest,
    RequestSent,
    TextDelta,
    ToolCallRequest,
    Usage,
)
from runtime.run import RunResult
from tests.helpers import check_sequence, of_type, run, source, types

pytestmark = pytest.mark.anyio

MODEL = "test/function"


async def run_with(
    text: str,
    answer: Callable[[ModelRequest], Any],
    inputs: dict[str, Any] | None = None,
    **options: Any,
) -> tuple[RunResult, list[Any], FunctionModel]:
    model = FunctionModel(answer)
    result, events = await run(text, inputs, mock=False, models={MODEL: model}, **options)
    return result, events, model


def agent_procedure(
    agent_options: str = "", body: str = 'local r = agent("Go.")\nreturn { text = r.output }'
) -> str:
    return (
        f'agent = Agent {{ model = "{MODEL}", system_prompt = "Be brief.", {agent_options} }}\n'
        f"Procedure {{\n  function(input)\n{body}\n  end\n}}\n"
    )


def tool_messages(request: ModelRequest) -> list[dict[str, Any]]:
    return [m for m in request.messages if m["role"] == "tool"]


# -- streaming -----------------------------------------------------------------------------------


async def test_time_to_first_token_counts_from_when_the_request_was_sent() -> None:
    """A client that says when its request left starts the clock there, not at the call."""
    waited_s = 5.0

    def answer(request: ModelRequest) -> list[ModelItem]:
        return [RequestSent(time.monotonic() - waited_s), TextDelta("Hi"), Finish("stop")]

    result, events, _ = await run_with(agent_procedure(), answer)
    assert result.ok
    (cost,) = of_type(events, "cost")
    assert cost.time_to_first_token_ms >= waited_s * 1000
    assert [e.chunk_text for e in of_type(events, "agent_stream_chunk")] == ["Hi"]


async def test_text_streams_as_chunks() -> None:
    result, events, model = await run_with(agent_procedure(), lambda r: "Hello big world")
    assert result.output == {"text": "Hello big world"}
    chunks = of_type(events, "agent_stream_chunk")
    assert [c.chunk_text for c in chunks] == ["Hello ", "big ", "world"]
    assert [c.offset for c in chunks] == [0, 6, 10]
    assert [c.accumulated_text for c in chunks] == ["Hello ", "Hello big ", "Hello big world"]
    assert {(c.agent, c.turn) for c in chunks} == {("agent", 1)}
    assert types(events) == [
        "run_started",
        "agent_turn",
        "agent_stream_chunk",
        "agent_stream_chunk",
        "agent_stream_chunk",
        "cost",
        "agent_turn",
        "run_completed",
    ]
    (request,) = model.requests
    assert request.stream is True
    assert request.agent == "agent" and request.model == MODEL
    assert request.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Go."},
    ]


async def test_items_arrive_in_the_order_given() -> None:
    answer = [TextDelta("a"), TextDelta(""), "b", TextDelta("c")]
    result, events, _ = await run_with(agent_procedure(), lambda r: answer)
    assert result.output == {"text": "abc"}
    # Empty deltas are not chunks.
    assert [c.chunk_text for c in of_type(events, "agent_stream_chunk")] == ["a", "b", "c"]


async def test_disable_streaming_sends_one_piece() -> None:
    _, events, model = await run_with(
        agent_procedure("disable_streaming = true"), lambda r: "Hello big world"
    )
    assert model.requests[0].stream is False
    assert [c.chunk_text for c in of_type(events, "agent_stream_chunk")] == ["Hello big world"]
    (cost,) = of_type(events, "cost")
    assert cost.streamed is False


async def test_prompt_templates_and_history() -> None:
    text = """
agent = Agent { model = "test/function", system_prompt = "Topic: {input.topic}; mood {state.mood}." }
Procedure {
  input = { topic = field.string{ default = "tides" } },
  function(input)
    state.mood = "calm"
    local a = agent("first").output
    local b = agent("second").output
    return { a = a, b = b }
  end
}
"""
    result, _, model = await run_with(text, lambda r: f"reply {r.turn}")
    assert result.output == {"a": "reply 1", "b": "reply 2"}
    first, second = model.requests
    assert first.messages[0] == {"role": "system", "content": "Topic: tides; mood calm."}
    assert [(m["role"], m["content"]) for m in second.messages[1:]] == [
        ("user", "first"),
        ("assistant", "reply 1"),
        ("user", "second"),
    ]
    assert (first.turn, second.turn) == (1, 2)


# -- tools ------------------------------------------------------------------------------------------

TOOLS = """
multiply = Tool {
  description = "Multiply two numbers",
  input = { a = field.number{ required = true }, b = field.number{ required = true } },
  function(args) Log.info("multiplying"); return args.a * args.b end
}
broken = Tool { description = "Always fails", function(args) error("the tool broke") end }
"""


async def test_tool_calls_run_lua_tools_inside_the_turn() -> None:
    def answer(request: ModelRequest) -> list[ModelItem]:
        if request.round == 1:
            return [
                TextDelta("Let me compute. "),
                ToolCallRequest("c1", "multiply", {"a": 6, "b": 7}),
            ]
        (result,) = tool_messages(request)
        return [TextDelta(f"It is {result['content']}.")]

    text = TOOLS + agent_procedure(
        "tools = { multiply }",
        'local r = agent("6 times 7?")\nreturn { text = r.output, calls = multiply.call_count(), tool_calls = r.tool_calls }',
    )
    result, events, model = await run_with(text, answer)
    assert result.output["text"] == "Let me compute. \n\nIt is 42."
    assert result.output["calls"] == 1
    assert result.output["tool_calls"] == [
        {"tool": "multiply", "args": {"a": 6, "b": 7}, "result": 42}
    ]
    turn_events = [e for e in events if e.type not in ("run_started", "run_completed")]
    assert [
        (e.type, getattr(e, "stage", None) or getattr(e, "chunk_text", None)) for e in turn_events
    ] == [
        ("agent_turn", "started"),
        ("agent_stream_chunk", "Let me compute. "),
        ("tool_call", "started"),
        ("log", None),
        ("tool_call", "completed"),
        ("agent_stream_chunk", "\n\n"),
        ("agent_stream_chunk", "It is 42."),
        ("cost", None),
        ("agent_turn", "completed"),
    ]
    started, completed = of_type(events, "tool_call")
    assert (started.agent, started.turn, started.call_id, started.args) == (
        "agent",
        1,
        "c1",
        {"a": 6, "b": 7},
    )
    assert completed.result == 42
    assert completed.duration_ms is not None
    # The model saw the tool and, in round 2, its own call and the result.
    first, second = model.requests
    assert [t.name for t in first.tools] == ["multiply"]
    assert first.tools[0].parameters["required"] == ["a", "b"]
    assert second.round == 2
    assert second.messages[-2]["tool_calls"][0]["function"]["name"] == "multiply"
    assert second.messages[-1] == {"role": "tool", "tool_call_id": "c1", "content": "42"}
    assert result.totals.tool_calls == 1


async def test_first_visible_token_counts_from_the_turn_not_the_round() -> None:
    """A turn whose first round only calls a tool shows its first text in a later round: a
    person waits from the turn's start, which ``first_visible_token_ms`` measures."""

    async def answer(request: ModelRequest) -> AsyncIterator[ModelItem]:
        await anyio.sleep(0.05)
        if request.round == 1:
            yield ToolCallRequest("c1", "multiply", {"a": 6, "b": 7})
            return
        yield TextDelta("It is 42.")

    text = TOOLS + agent_procedure("tools = { multiply }")
    result, events, _ = await run_with(text, answer)
    assert result.output == {"text": "It is 42."}
    (cost,) = of_type(events, "cost")
    assert cost.time_to_first_token_ms is not None and cost.first_visible_token_ms is not None
    # Two model calls of at least 50 ms each came before the first text; the round's own
    # time to first token covers only the second.
    assert cost.first_visible_token_ms >= 100
    assert cost.first_visible_token_ms > cost.time_to_first_token_ms
    # The turn says it too, as it ends.
    (ended,) = [e for e in of_type(events, "agent_turn") if e.stage == "completed"]
    assert ended.first_visible_token_ms == cost.first_visible_token_ms


async def test_tool_errors_go_back_to_the_model() -> None:
    def answer(request: ModelRequest) -> list[ModelItem] | str:
        if request.round == 1:
            return [ToolCallRequest("c1", "broken", {}), ToolCallRequest("c2", "nope", {"x": 1})]
        return "Both failed: " + " | ".join(m["content"] for m in tool_messages(request))

    result, events, _ = await run_with(TOOLS + agent_procedure("tools = { broken }"), answer)
    assert result.ok
    calls = of_type(events, "tool_call")
    assert [(c.tool, c.stage) for c in calls] == [
        ("broken", "started"),
        ("broken", "failed"),
        ("nope", "started"),
        ("nope", "failed"),
    ]
    assert calls[1].error == "the tool broke"
    assert calls[3].error == "no tool named 'nope' (available: broken)"
    assert result.output["text"] == (
        "Both failed: Error: the tool broke | Error: no tool named 'nope' (available: broken)"
    )


async def test_done_ends_the_tool_loop() -> None:
    def answer(request: ModelRequest) -> list[ModelItem]:
        assert request.round == 1, "no round after done"
        return [
            ToolCallRequest("c1", "multiply", {"a": 2, "b": 3}),
            ToolCallRequest("c2", "done", {"reason": "six"}),
        ]

    text = (
        TOOLS
        + 'local done = require("tactus.tools.done")\n'
        + agent_procedure(
            "tools = { multiply, done }",
            'local r = agent("Go.")\nreturn { text = r.output, done = done.called() }',
        )
    )
    result, events, model = await run_with(text, answer)
    assert result.output == {"text": "six", "done": True}
    assert len(model.requests) == 1
    assert [c.tool for c in of_type(events, "tool_call")] == ["multiply"] * 2 + ["done"] * 2


async def test_round_limit() -> None:
    counter = {"n": 0}

    def answer(request: ModelRequest) -> list[ModelItem]:
        counter["n"] += 1
        return [
            TextDelta(f"try {request.round} "),
            ToolCallRequest(f"c{request.round}", "multiply", {"a": 1, "b": 1}),
        ]

    result, events, model = await run_with(
        TOOLS + agent_procedure("tools = { multiply }, max_tool_rounds = 3"), answer
    )
    assert result.status == "failed"
    assert result.error is not None and result.error.kind == "tool_loop"
    assert "more than 3 tool rounds" in result.error.message
    assert result.error.hint is not None and "done" in result.error.hint
    assert len(model.requests) == 3
    assert len(of_type(events, "tool_call")) == 6
    (cost,) = of_type(events, "cost")
    assert cost.llm_calls == 3
    turns = of_type(events, "agent_turn")
    assert turns[-1].stage == "failed"
    assert turns[-1].text == "try 1 \n\ntry 2 \n\ntry 3 "


# -- structured output -------------------------------------------------------------------------------

STRUCTURED = "output = { title = field.string{ required = true }, year = field.integer{} }"
STRUCTURED_BODY = (
    'local r = agent("Extract.")\nreturn { title = r.output.title, year = r.output.year }'
)


async def test_structured_output() -> None:
    result, events, model = await run_with(
        agent_procedure(STRUCTURED, STRUCTURED_BODY),
        lambda r: '```json\n{"title": "Dune", "year": 1965}\n```',
    )
    assert result.output == {"title": "Dune", "year": 1965}
    (validation,) = of_type(events, "output_validation")
    assert (validation.target, validation.ok) == ("agent:agent", True)
    schema = model.requests[0].output_schema
    assert schema is not None and schema["required"] == ["title"]


async def test_structured_output_retry_feeds_errors_back() -> None:
    def answer(request: ModelRequest) -> str:
        if request.round == 1:
            return '{"year": "long ago"}'
        return '{"title": "Dune", "year": 1965}'

    result, events, model = await run_with(agent_procedure(STRUCTURED, STRUCTURED_BODY), answer)
    assert result.output == {"title": "Dune", "year": 1965}
    feedback = model.requests[1].messages[-1]
    assert feedback["role"] == "user"
    assert "- title: Field required" in feedback["content"]
    assert "- year:" in feedback["content"]
    assert model.requests[1].messages[-2] == {
        "role": "assistant",
        "content": '{"year": "long ago"}',
    }
    # Every attempt is reported: the one asked again, then the one that passed.
    first, second = of_type(events, "output_validation")
    assert (first.ok, first.attempt, first.retried) == (False, 1, True)
    assert {e.path for e in first.errors} == {"title", "year"}
    assert first.raw == '{"year": "long ago"}'
    assert (second.ok, second.attempt, second.retried) == (True, 2, False)
    (cost,) = of_type(events, "cost")
    assert cost.llm_calls == 2


async def test_structured_output_failure_keeps_the_raw_answer() -> None:
    result, events, model = await run_with(
        agent_procedure(STRUCTURED + ", output_retries = 1", STRUCTURED_BODY),
        lambda r: "no JSON here" if r.round == 1 else '{"year": "old"}',
    )
    assert len(model.requests) == 2
    retried, validation = of_type(events, "output_validation")
    assert (retried.ok, retried.retried, retried.raw) == (False, True, "no JSON here")
    assert (validation.attempt, validation.retried) == (2, False)
    assert validation.target == "agent:agent"
    assert validation.ok is False
    assert {e.path for e in validation.errors} == {"title", "year"}
    assert validation.raw == '{"year": "old"}'
    assert result.status == "failed"
    assert result.error is not None and result.error.kind == "output_validation"
    assert types(events)[-3:] == ["cost", "agent_turn", "run_failed"]
    assert of_type(events, "agent_turn")[-1].stage == "failed"


async def test_structured_output_that_is_not_json() -> None:
    _, events, _ = await run_with(
        agent_procedure(STRUCTURED + ", output_retries = 0", STRUCTURED_BODY), lambda r: "Dune"
    )
    (validation,) = of_type(events, "output_validation")
    assert [e.path for e in validation.errors] == ["(answer)"]
    assert "not valid JSON" in validation.errors[0].message
    assert validation.raw == "Dune"


# -- time limits ---------------------------------------------------------------------------------------


async def test_first_token_timeout() -> None:
    async def silent(request: ModelRequest) -> AsyncIterator[ModelItem]:
        await anyio.sleep_forever()
        yield TextDelta("never")

    result, events, model = await run_with(
        agent_procedure("first_token_timeout = 0.05, retries = 0"), silent
    )
    assert result.status == "failed"
    assert result.error is not None and result.error.kind == "timeout"
    assert "for the first token" in result.error.message
    assert len(model.requests) == 1
    turns = of_type(events, "agent_turn")
    assert [t.stage for t in turns] == ["started", "failed"]
    assert turns[1].text == ""


async def test_a_first_token_timeout_is_retried() -> None:
    async def silent_once(request: ModelRequest) -> AsyncIterator[ModelItem]:
        if len(model.requests) == 1:
            await anyio.sleep_forever()
        yield TextDelta("At last.")

    model = FunctionModel(silent_once)
    config = RuntimeConfig(retry_backoff_s=0.01)
    text = agent_procedure("first_token_timeout = 0.05, retries = 2")
    result, events = await run(text, mock=False, models={MODEL: model}, config=config)
    assert result.output == {"text": "At last."}
    assert len(model.requests) == 2
    (cost,) = of_type(events, "cost")
    assert cost.llm_calls == 2

    async def silent(request: ModelRequest) -> AsyncIterator[ModelItem]:
        await anyio.sleep_forever()
        yield TextDelta("never")

    model = FunctionModel(silent)
    result, _ = await run(text, mock=False, models={MODEL: model}, config=config)
    assert len(model.requests) == 3
    assert result.error is not None and result.error.kind == "timeout"
    assert "for the first token" in result.error.message


async def test_idle_timeout_keeps_the_partial_text() -> None:
    async def stalls(request: ModelRequest) -> AsyncIterator[ModelItem]:
        yield TextDelta("Once upon ")
        yield TextDelta("a time")
        await anyio.sleep_forever()

    result, events, _ = await run_with(agent_procedure("idle_timeout = 0.05"), stalls)
    assert result.error is not None and result.error.kind == "timeout"
    assert "between chunks" in result.error.message
    assert result.partial_text == "Once upon a time"
    failed_turn = of_type(events, "agent_turn")[-1]
    assert (failed_turn.stage, failed_turn.text) == ("failed", "Once upon a time")
    assert failed_turn.error.kind == "timeout"
    assert events[-1].partial_text == "Once upon a time"
    (cost,) = of_type(events, "cost")
    assert cost.chunks == 2


async def test_a_procedure_can_catch_a_failed_turn() -> None:
    async def stalls(request: ModelRequest) -> AsyncIterator[ModelItem]:
        yield TextDelta("partial")
        await anyio.sleep_forever()

    body = 'local ok, err = pcall(agent, "Go.")\nreturn { ok = ok, err = tostring(err) }'
    result, events, _ = await run_with(agent_procedure("idle_timeout = 0.05", body), stalls)
    assert result.ok
    assert result.output["ok"] is False
    assert "between chunks" in result.output["err"]
    assert of_type(events, "agent_turn")[-1].stage == "failed"


# -- model errors --------------------------------------------------------------------------------------


async def test_retryable_error_before_the_first_chunk_is_retried() -> None:
    def answer(request: ModelRequest) -> str:
        if len(model.requests) == 1:
            raise ModelError(
                "overloaded",
                kind="rate_limit",
                retryable=True,
                retry_after=0,
                usage=Usage(3, 0, 0.5),
            )
        return "Recovered."

    model = FunctionModel(answer)
    result, events = await run(agent_procedure(), mock=False, models={MODEL: model})
    assert result.output == {"text": "Recovered."}
    assert len(model.requests) == 2
    assert [t.stage for t in of_type(events, "agent_turn")] == ["started", "completed"]
    (cost,) = of_type(events, "cost")
    assert cost.llm_calls == 2
    # Usage spent on the failed attempt still counts.
    assert cost.cost_usd == 0.5
    assert cost.prompt_tokens == 3 + 3


async def test_retries_give_up() -> None:
    def answer(request: ModelRequest) -> str:
        raise ModelError("overloaded", retryable=True, retry_after=0)

    result, _, model = await run_with(agent_procedure("retries = 2"), answer)
    assert len(model.requests) == 3
    assert result.error is not None and result.error.kind == "model"
    assert "try again later" not in result.error.message  # no status: nothing invented
    assert result.error.detail is not None and "overloaded" in result.error.detail


async def test_non_retryable_error_is_not_retried() -> None:
    def answer(request: ModelRequest) -> str:
        raise ModelError("bad key", kind="auth", status=401)

    result, _, model = await run_with(agent_procedure(), answer)
    assert len(model.requests) == 1
    assert result.error is not None and "refused the request (HTTP 401)" in result.error.message
    assert "check the API key" in result.error.message
    assert result.error.detail == "bad key"


async def test_failure_after_the_first_chunk_fails_the_turn_with_partial_text() -> None:
    async def breaks(request: ModelRequest) -> AsyncIterator[ModelItem]:
        yield TextDelta("Half an ")
        yield TextDelta("answer")
        raise ModelError("connection reset", kind="connection", retryable=True)

    result, events, model = await run_with(agent_procedure(), breaks)
    assert len(model.requests) == 1
    turns = of_type(events, "agent_turn")
    assert [t.stage for t in turns] == ["started", "failed"]
    assert turns[1].text == "Half an answer"
    assert turns[1].error.kind == "model"
    failed = events[-1]
    assert failed.type == "run_failed"
    assert failed.partial_text == "Half an answer"
    assert failed.error.kind == "model"
    assert "the connection to test failed or was cut" in failed.error.message
    assert failed.error.detail == "connection reset"
    assert result.partial_text == "Half an answer"


# -- accounting ---------------------------------------------------------------------------------------


async def test_usage_and_cost_are_summed_over_rounds() -> None:
    def answer(request: ModelRequest) -> list[ModelItem]:
        if request.round == 1:
            return [
                TextDelta("Checking. "),
                ToolCallRequest("c1", "multiply", {"a": 2, "b": 2}),
                Usage(prompt_tokens=100, completion_tokens=10, cost_usd=0.01),
                Finish("tool_calls"),
            ]
        return [
            TextDelta("Four."),
            Usage(prompt_tokens=150, completion_tokens=5, cost_usd=0.02),
            Finish("stop"),
        ]

    text = (
        TOOLS
        + """
agent = Agent { model = "test/function", tools = { multiply } }
other = Agent { model = "test/function" }
Procedure {
  function(input)
    local r = agent("2*2?")
    local o = other("Hi")
    return { usage = r.usage, cost = r.cost, other_usage = o.usage }
  end
}
"""
    )

    def route(request: ModelRequest) -> Any:
        if request.agent == "other":
            return [TextDelta("Hello"), Usage(7, 3, 0.001)]
        return answer(request)

    result, events, _ = await run_with(text, route)
    assert result.ok
    agent_cost, _ = of_type(events, "cost")
    assert (agent_cost.agent, agent_cost.turn, agent_cost.model, agent_cost.provider) == (
        "agent",
        1,
        MODEL,
        "function",
    )
    assert agent_cost.prompt_tokens == 250
    assert agent_cost.completion_tokens == 15
    assert agent_cost.total_tokens == 265
    assert agent_cost.cost_usd == pytest.approx(0.03)
    assert agent_cost.llm_calls == 2
    assert agent_cost.finish_reason == "stop"
    assert agent_cost.chunks == 3
    assert agent_cost.time_to_first_token_ms is not None
    assert result.output["usage"] == {
        "prompt_tokens": 250,
        "completion_tokens": 15,
        "total_tokens": 265,
    }
    assert result.output["cost"] == pytest.approx(0.03)
    assert result.output["other_usage"] == {
        "prompt_tokens": 7,
        "completion_tokens": 3,
        "total_tokens": 10,
    }
    totals = result.totals
    assert totals.prompt_tokens == 257
    assert totals.completion_tokens == 18
    assert totals.total_tokens == 275
    assert totals.cost_usd == pytest.approx(0.031)
    assert totals.llm_calls == 3
    assert totals.agent_turns == 2
    assert totals.tool_calls == 1
    assert events[-1].totals == totals


async def test_estimated_usage_when_the_function_gives_none() -> None:
    _, events, _ = await run_with(agent_procedure(), lambda r: "three word answer")
    (cost,) = of_type(events, "cost")
    # "Be brief." + "Go." = 3 words in; 3 words out.
    assert (cost.prompt_tokens, cost.completion_tokens) == (3, 3)


# -- the override hook ------------------------------------------------------------------------------------


async def test_models_as_a_function_and_with_mock_mode() -> None:
    model = FunctionModel(lambda r: "from the function")
    picked: list[str] = []

    def models(name: str) -> FunctionModel | None:
        picked.append(name)
        return model if name == MODEL else None

    text = agent_procedure() + 'Mocks { agent = { message = "from the mock" } }\n'
    result, _ = await run(text, mock=True, models=models)
    assert result.output == {"text": "from the function"}
    assert MODEL in picked
    result, _ = await run(text, mock=True, models=lambda name: None)
    assert result.output == {"text": "from the mock"}


async def test_the_model_option_picks_the_override() -> None:
    model = FunctionModel(lambda r: f"answered as {r.model}")
    text = 'agent = Agent { model = "openai/gpt-4o-mini" }\nProcedure { function(input) return { t = agent("x").output } end }\n'
    result, _ = await run(text, mock=False, model="test/other", models={"test/other": model})
    assert result.output == {"t": "answered as test/other"}


async def test_function_model_rejects_bad_answers() -> None:
    result, _, _ = await run_with(agent_procedure(), lambda r: 42)
    assert result.error is not None and result.error.kind == "model"
    assert "malformed" in result.error.message
    assert result.error.detail is not None and "must return a str" in result.error.detail
    result, _, _ = await run_with(agent_procedure(), lambda r: [TextDelta("ok"), 3.5])
    assert result.error is not None and "not a model item: 3.5" in result.error.message


# -- property: the stream is the text ------------------------------------------------------------------


def check_chunks(chunks: list[Any], final: str) -> None:
    assert "".join(c.chunk_text for c in chunks) == final
    position = 0
    for chunk in chunks:
        assert chunk.offset == position
        position += len(chunk.chunk_text)
        assert chunk.accumulated_text == final[:position]


PROPERTY = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(text=st.text(max_size=200))
async def test_mocked_chunks_concatenate_to_the_text(text: str) -> None:
    memory = MemoryHandler()
    procedure = 'agent = Agent { model = "m/x" }\nProcedure { function(input) return { t = agent("go").output } end }\n'
    async with Runtime(RuntimeConfig()) as runtime:
        result = await runtime.create_run(
            source(procedure),
            handlers=[memory],
            mock=True,
            extra_mocks={"agent": {"message": text}},
        ).execute()
    check_sequence(memory.events)
    assert result.output == {"t": text}
    check_chunks(memory.of_type("agent_stream_chunk"), text)
    (completed,) = [e for e in memory.of_type("agent_turn") if e.stage == "completed"]
    assert completed.text == text


@PROPERTY
@given(pieces=st.lists(st.text(max_size=20), max_size=15))
async def test_function_model_chunks_concatenate_to_the_text(pieces: list[str]) -> None:
    result, events, _ = await run_with(agent_procedure(), lambda r: [TextDelta(p) for p in pieces])
    final = "".join(pieces)
    assert result.output == {"text": final}
    chunks = of_type(events, "agent_stream_chunk")
    assert [c.chunk_text for c in chunks] == [p for p in pieces if p]
    check_chunks(chunks, final)
    for chunk in chunks:
        back = json.loads(chunk.model_dump_json())
        assert back["accumulated_text"] == chunk.accumulated_text


async def test_an_overridden_model_needs_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    async def answer(request: ModelRequest) -> list[ModelItem]:
        await anyio.lowlevel.checkpoint()
        return [TextDelta("from an async function")]

    text = 'agent = Agent { model = "openai/gpt-4o-mini" }\nProcedure { function(input) return { t = agent("x").output } end }\n'
    result, _ = await run(text, mock=False, models={"openai/gpt-4o-mini": FunctionModel(answer)})
    assert result.output == {"t": "from an async function"}
