"""The real clients (LiteLLM, the openai SDK, DSPy) against the server, as against a provider."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import litellm
import openai
import pytest
from litellm.exceptions import MidStreamFallbackError
from pydantic import BaseModel

from runtime.model_server import Reply, ScriptedModelServer, ToolCall

pytestmark = pytest.mark.anyio

litellm.suppress_debug_info = True

MESSAGES = [{"role": "user", "content": "What is the weather in Oslo?"}]
# With ``tools``, litellm 1.106 first imports its MCP gateway, which needs the optional ``mcp``
# package; litellm's own internal flag skips that step, which is irrelevant to the protocol.
WITHOUT_MCP = {"_skip_mcp_handler": True}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}

# The openai SDK types its parameters as TypedDicts; these plain dicts are the same JSON.
OPENAI_MESSAGES: Any = MESSAGES
OPENAI_TOOL: Any = WEATHER_TOOL


async def stream_litellm(server: ScriptedModelServer, **kwargs: Any) -> list[Any]:
    response = await litellm.acompletion(
        model="openai/tide-scripted",
        api_base=server.base_url,
        api_key="x",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        max_retries=0,
        **kwargs,
    )
    return [chunk async for chunk in response]


def chunk_text(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


TRICKY = 'It is 12 °C 🌤 in "Oslo".\n\n[[ ## answer ## ]]\n```py\nprint("a\\\\b")\n```\n  done '


async def test_litellm_streams_text_and_usage(server: ScriptedModelServer) -> None:
    server.append(Reply(text=TRICKY))
    chunks = await stream_litellm(server)
    assert chunk_text(chunks) == TRICKY
    usage = [c.usage for c in chunks if getattr(c, "usage", None)]
    assert usage[-1].completion_tokens == server.streams[0].tokens_sent
    assert usage[-1].prompt_tokens == 7
    assert [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ] == ["stop"]
    rebuilt = litellm.stream_chunk_builder(chunks, messages=MESSAGES)
    assert rebuilt is not None
    choice: Any = rebuilt.choices[0]
    assert choice.message.content == TRICKY


async def test_litellm_streams_a_long_default_answer(server: ScriptedModelServer) -> None:
    server.append(Reply(tokens=1500))
    chunks = await stream_litellm(server)
    assert len(chunk_text(chunks)) > 3000
    assert server.streams[0].completed


async def test_litellm_streams_tool_calls(server: ScriptedModelServer) -> None:
    server.append(
        Reply(
            text="Checking.",
            tool_calls=[
                ToolCall(name="get_weather", arguments={"city": "Oslo"}),
                ToolCall(name="get_weather", arguments={"city": "Bergen"}),
            ],
        )
    )
    chunks = await stream_litellm(server, tools=[WEATHER_TOOL], **WITHOUT_MCP)
    rebuilt = litellm.stream_chunk_builder(chunks, messages=MESSAGES)
    assert rebuilt is not None
    choice: Any = rebuilt.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Checking."
    calls = choice.message.tool_calls
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("call_0_0", "get_weather", {"city": "Oslo"}),
        ("call_0_1", "get_weather", {"city": "Bergen"}),
    ]
    assert server.requests[0].tools == [WEATHER_TOOL]


async def test_litellm_without_streaming(server: ScriptedModelServer) -> None:
    server.append(Reply(tool_calls=[ToolCall(name="get_weather", arguments={"city": "Oslo"})]))
    response = await litellm.acompletion(
        model="openai/tide-scripted", api_base=server.base_url, api_key="x", messages=MESSAGES
    )
    message = response.choices[0].message
    assert message.tool_calls[0].function.name == "get_weather"
    assert response.usage.completion_tokens == server.streams[0].tokens_sent


class Forecast(BaseModel):
    city: str
    temperature: float
    rain: bool
    hours: list[int]


async def test_litellm_structured_output_from_a_schema(server: ScriptedModelServer) -> None:
    response = await litellm.acompletion(
        model="openai/tide-scripted",
        api_base=server.base_url,
        api_key="x",
        messages=MESSAGES,
        response_format=Forecast,
    )
    Forecast.model_validate_json(response.choices[0].message.content)
    assert server.requests[0].response_format is not None
    assert server.requests[0].response_format["type"] == "json_schema"


async def test_litellm_reports_a_dropped_stream(server: ScriptedModelServer) -> None:
    server.append(Reply(text="one two three four five", drop_after_tokens=2))
    with pytest.raises(MidStreamFallbackError) as caught:
        await stream_litellm(server)
    error = caught.value
    assert isinstance(error, litellm.ServiceUnavailableError)
    assert error.status_code == 500
    assert error.generated_content == "one two"
    assert isinstance(error.original_exception, litellm.APIConnectionError)
    assert "Response payload is not completed" in str(error)


async def test_litellm_reports_a_malformed_chunk(server: ScriptedModelServer) -> None:
    server.append(Reply(text="one two three", malformed_after_tokens=1))
    with pytest.raises(MidStreamFallbackError) as caught:
        await stream_litellm(server)
    assert caught.value.generated_content == "one"
    assert "Unterminated string" in str(caught.value)


async def test_litellm_reports_http_errors(server: ScriptedModelServer) -> None:
    server.append(Reply(status=429, retry_after=3), Reply(status=500), Reply(status=401))
    with pytest.raises(litellm.RateLimitError) as limited:
        await stream_litellm(server)
    assert limited.value.status_code == 429
    assert getattr(limited.value, "litellm_response_headers", {})["retry-after"] == "3"
    with pytest.raises(litellm.InternalServerError):
        await stream_litellm(server)
    with pytest.raises(litellm.AuthenticationError):
        await stream_litellm(server)


async def test_litellm_retries_429_and_500_by_default(server: ScriptedModelServer) -> None:
    # litellm hands retries to the openai SDK (two by default), which honours Retry-After:
    # each retry takes the next reply of the script.
    server.append(Reply(status=429, retry_after=0.05), Reply(status=500), Reply(text="third time"))
    response = await litellm.acompletion(
        model="openai/tide-scripted", api_base=server.base_url, api_key="x", messages=MESSAGES
    )
    assert response.choices[0].message.content == "third time"
    assert len(server.requests) == 3


async def test_litellm_closing_a_stream_is_seen_by_the_server(server: ScriptedModelServer) -> None:
    server.append(Reply(tokens=1000, tokens_per_second=500))
    response = await litellm.acompletion(
        model="openai/tide-scripted",
        api_base=server.base_url,
        api_key="x",
        messages=MESSAGES,
        stream=True,
        max_retries=0,
    )
    async for chunk in response:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    await response.aclose()
    record = server.streams[0]
    for _ in range(100):
        if record.client_disconnected:
            break
        await anyio.sleep(0.005)
    assert record.client_disconnected and not record.completed


async def test_openai_client_streams_text_usage_and_tools(server: ScriptedModelServer) -> None:
    server.append(
        Reply(text="Sure.", tool_calls=[ToolCall(name="get_weather", arguments={"city": "Oslo"})])
    )
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    stream = await client.chat.completions.create(
        model="tide-scripted",
        messages=OPENAI_MESSAGES,
        tools=[OPENAI_TOOL],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, arguments, names, finish, usage = "", "", [], None, None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for call in delta.tool_calls or []:
            if call.function and call.function.name:
                names.append(call.function.name)
            arguments += (call.function.arguments or "") if call.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert (text, names, json.loads(arguments), finish) == (
        "Sure.",
        ["get_weather"],
        {"city": "Oslo"},
        "tool_calls",
    )
    assert usage is not None and usage.completion_tokens == server.streams[0].tokens_sent
    await client.close()


async def test_openai_client_errors(server: ScriptedModelServer) -> None:
    server.append(
        Reply(status=429, retry_after=2),
        Reply(text="a b c", drop_after_tokens=1),
        Reply(text="a b c", malformed_after_tokens=1),
    )
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0)

    async def consume() -> None:
        stream = await client.chat.completions.create(
            model="tide-scripted",
            messages=OPENAI_MESSAGES,
            stream=True,
        )
        async for _ in stream:
            pass

    with pytest.raises(openai.RateLimitError) as limited:
        await consume()
    assert limited.value.response.headers["retry-after"] == "2"
    # Failures after the response started are not wrapped by the SDK.
    with pytest.raises(httpx.RemoteProtocolError):
        await consume()
    with pytest.raises(json.JSONDecodeError):
        await consume()
    await client.close()


async def test_dspy_predict_with_a_scripted_answer(server: ScriptedModelServer) -> None:
    import dspy

    server.append(Reply(text="[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"))
    lm = dspy.LM(
        "openai/tide-scripted", api_base=server.base_url, api_key="x", cache=False, num_retries=0
    )
    with dspy.context(lm=lm):
        prediction = await dspy.Predict("question -> answer").acall(question="Capital of France?")
    assert prediction.answer == "Paris"
    assert "Capital of France?" in server.requests[0].messages[-1]["content"]
