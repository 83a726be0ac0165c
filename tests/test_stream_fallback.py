"""A model call repeated without streaming, once, when the provider or model cannot stream."""

from __future__ import annotations

from typing import Any

import pytest

from runtime import MemoryHandler, Runtime, RuntimeConfig
from runtime.model_server import Reply, Script
from runtime.models import FunctionModel, ModelError, ModelRequest
from runtime.stream_fallback import cannot_stream
from tests.helpers import check_sequence, of_type, run, source

pytestmark = pytest.mark.anyio

TEXT = (
    'w = Agent { model = "scripted/default", retries = 0 OPTIONS }\n'
    'Procedure { function(input) return { r = w("Say hello.").output } end }\n'
)


async def scripted(replies: list[Reply], options: str = "", **config: Any) -> tuple[Any, list[Any]]:
    async with Runtime(RuntimeConfig(**config)) as runtime:
        server = await runtime.scripted_server()
        server.script.extend(Script(replies=replies))
        memory = MemoryHandler()
        result = await runtime.run(source(TEXT.replace("OPTIONS", options)), handlers=[memory])
        requests = [r.stream for r in server.requests]
    check_sequence(memory.events)
    return result, memory.events, requests


async def test_a_plain_json_answer_to_a_stream_is_used() -> None:
    whole = Reply(text="Hello, whole world.", stream=False, repeat=True)
    result, events, requests = await scripted([whole])
    assert result.output == {"r": "Hello, whole world."}
    assert requests == [True, False]
    (chunk,) = of_type(events, "agent_stream_chunk")
    assert chunk.chunk_text == "Hello, whole world."
    (cost,) = of_type(events, "cost")
    assert cost.streamed is False and cost.llm_calls == 2
    (log,) = [e for e in of_type(events, "log") if e.source == "streaming"]
    assert "without streaming" in log.message and log.level == "warn"


async def test_the_fallback_can_be_turned_off() -> None:
    whole = Reply(text="Hello, whole world.", stream=False, repeat=True)
    result, events, requests = await scripted([whole], ", stream_fallback = false")
    assert requests == [True]
    assert result.output == {"r": ""}
    assert not [e for e in of_type(events, "log") if e.source == "streaming"]


async def test_listed_models_are_never_streamed() -> None:
    result, events, requests = await scripted(
        [Reply(text="Whole.")], non_streaming_models=("scripted/*",)
    )
    assert result.output == {"r": "Whole."}
    assert requests == [False]
    assert of_type(events, "cost")[0].streamed is False


async def test_an_error_that_says_streaming_is_unsupported_falls_back() -> None:
    def answer(request: ModelRequest) -> str:
        if request.stream:
            raise ModelError("400: streaming is not supported for this model", status=400)
        return "In one piece."

    model = FunctionModel(answer)
    text = 'w = Agent { model = "m/x", retries = 0 }\nProcedure { function(input) return { r = w("Go.").output } end }\n'
    result, _ = await run(text, mock=False, models={"m/x": model})
    assert result.output == {"r": "In one piece."}
    assert [r.stream for r in model.requests] == [True, False]


def test_which_errors_say_a_stream_is_refused() -> None:
    assert cannot_stream(ModelError("Streaming is not supported for o1-pro"))
    assert cannot_stream(ModelError("this model does not support stream=true"))
    assert not cannot_stream(ModelError("rate limited", kind="rate_limit"))
    assert not cannot_stream(ModelError("invalid api key", kind="auth"))
