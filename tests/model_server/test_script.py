"""Which reply answers a request, the control API and the server's life cycle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import pydantic
import pytest

from runtime.model_server import Reply, Script, ScriptedModelServer, ToolCall

from .conftest import Chat

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]


async def test_replies_are_used_in_order_then_default(
    server: ScriptedModelServer, chat: Chat
) -> None:
    server.set_script(Script(replies=[Reply(text="first"), Reply(text="second")]))
    assert (await chat()).text == "first"
    assert (await chat()).text == "second"
    default = await chat()
    assert default.text not in {"first", "second"}
    assert [r.scripted for r in server.requests] == [True, True, False]
    assert server.script.replies == []


async def test_match_picks_the_first_matching_reply(
    server: ScriptedModelServer, chat: Chat
) -> None:
    server.set_script(
        Script(
            replies=[
                Reply(match=r"(?i)weather", text="It is sunny."),
                Reply(text="generic one"),
                Reply(text="generic two"),
            ]
        )
    )
    assert (await chat("Hi")).text == "generic one"
    assert (await chat("What's the WEATHER like?")).text == "It is sunny."
    assert (await chat("What's the weather like?")).text == "generic two"


async def test_match_reads_only_the_last_user_message(
    server: ScriptedModelServer, chat: Chat
) -> None:
    server.append(Reply(match="banana", text="found"))
    history: list[dict[str, Any]] = [
        {"role": "user", "content": "banana"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "apple"},
    ]
    assert (await chat(messages=history)).text != "found"
    history.append({"role": "tool", "content": "banana"})
    history.append({"role": "user", "content": [{"type": "text", "text": "a banana split"}]})
    assert (await chat(messages=history)).text == "found"


async def test_repeat_keeps_a_reply(server: ScriptedModelServer, chat: Chat) -> None:
    server.append(Reply(match="ping", text="pong", repeat=True), Reply(text="once"))
    assert [(await chat("ping")).text for _ in range(3)] == ["pong"] * 3
    assert (await chat("other")).text == "once"
    assert (await chat("ping")).text == "pong"


async def test_replies_per_model_come_first(server: ScriptedModelServer, chat: Chat) -> None:
    server.set_script(
        Script(
            replies=[Reply(text="shared")],
            models={"judge": [Reply(text="PASS")], "writer": [Reply(text="draft")]},
        )
    )
    assert (await chat(model="judge")).text == "PASS"
    assert (await chat(model="judge")).text == "shared"
    assert (await chat(model="writer")).text == "draft"
    server.append(Reply(text="again"), model="judge")
    assert (await chat(model="judge")).text == "again"


async def test_script_given_at_construction_is_copied() -> None:
    script = Script(replies=[Reply(text="only")])
    async with ScriptedModelServer(script) as server, httpx.AsyncClient() as client:
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        response = await client.post(f"{server.base_url}/chat/completions", json=body)
        assert response.json()["choices"][0]["message"]["content"] == "only"
    assert len(script.replies) == 1


async def test_control_api_replaces_appends_shows_and_clears(
    http: httpx.AsyncClient, chat: Chat
) -> None:
    response = await http.post("/_tide/script", json={"replies": ["one", {"text": "two"}]})
    assert response.json() == {"replies": [{"text": "one"}, {"text": "two"}]}
    appended = await http.post(
        "/_tide/script?append=1", json={"replies": ["three"], "models": {"judge": ["PASS"]}}
    )
    assert appended.json() == {
        "replies": [{"text": "one"}, {"text": "two"}, {"text": "three"}],
        "models": {"judge": [{"text": "PASS"}]},
    }
    assert (await chat()).text == "one"
    assert (await http.get("/_tide/script")).json()["replies"] == [
        {"text": "two"},
        {"text": "three"},
    ]
    replaced = await http.post("/_tide/script", json={"replies": [{"json": {"x": 1}}]})
    assert replaced.json() == {"replies": [{"json": {"x": 1}}]}
    assert json.loads((await chat()).text) == {"x": 1}
    await http.post("/_tide/script", json={"replies": ["left over"]})
    assert (await http.delete("/_tide/script")).json() == {}
    assert (await chat()).text != "left over"


async def test_control_api_rejects_invalid_scripts(http: httpx.AsyncClient) -> None:
    for body in (
        {"replies": [{"text": "a", "tokens": 3}]},
        {"replies": [{"match": "("}]},
        {"nope": 1},
    ):
        response = await http.post("/_tide/script", json=body)
        assert response.status_code == 400
        assert "invalid script" in response.json()["error"]["message"]


async def test_requests_are_recorded(
    server: ScriptedModelServer, http: httpx.AsyncClient, chat: Chat
) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    await chat(
        "first",
        model="alpha",
        tools=tools,
        tool_choice="auto",
        max_tokens=7,
        stream_options={"include_usage": True},
        temperature=0.2,
    )
    await chat("second", stream=False, response_format={"type": "json_object"})
    records = (await http.get("/_tide/requests")).json()
    assert records == [r.model_dump(mode="json") for r in server.requests]
    first, second = records
    assert first["index"] == 0
    assert first["model"] == "alpha"
    assert first["messages"] == [{"role": "user", "content": "first"}]
    assert first["tools"] == tools
    assert first["tool_choice"] == "auto"
    assert first["max_tokens"] == 7
    assert first["stream"] is True
    assert first["stream_options"] == {"include_usage": True}
    assert first["body"]["temperature"] == 0.2
    assert second["stream"] is False
    assert second["response_format"] == {"type": "json_object"}
    assert second["received_at"] >= first["received_at"]


async def test_streams_are_recorded(
    server: ScriptedModelServer, http: httpx.AsyncClient, chat: Chat
) -> None:
    server.append(Reply(text="a b c"), Reply(text="whole"))
    await chat(stream_options={"include_usage": True})
    await chat(stream=False)
    streams = (await http.get("/_tide/streams")).json()
    assert streams == [s.model_dump(mode="json") for s in server.streams]
    streamed, whole = server.streams
    assert streamed.request_index == 0 and streamed.stream
    assert streamed.tokens_sent == 3
    assert streamed.chunks_sent == 5  # three content chunks, usage, [DONE]
    assert streamed.completed and not streamed.dropped and not streamed.client_disconnected
    assert streamed.first_content_at is not None and streamed.last_byte_at is not None
    assert streamed.received_at <= streamed.first_content_at <= streamed.last_byte_at
    assert whole.request_index == 1 and not whole.stream
    assert whole.chunks_sent == 1 and whole.tokens_sent == 1


def test_the_documented_example_is_a_valid_script() -> None:
    import runtime.model_server

    doc = runtime.model_server.__doc__ or ""
    example = doc[doc.index("::\n") + 3 : doc.index("\n\nA request for model")]
    script = Script.model_validate_json(example)
    assert len(script.replies) == 6 and list(script.models) == ["judge"]


def test_script_json_round_trip_and_validation() -> None:
    text = json.dumps(
        {
            "replies": [
                "hi",
                {
                    "match": "weather",
                    "repeat": True,
                    "tool_calls": [{"name": "w", "arguments": {"c": 1}}],
                },
                {"json": None},
                {"tokens": 20, "tokens_per_second": 5},
                {"status": 429, "retry_after": 2},
            ],
            "models": {"judge": [{"text": "PASS", "stall_before_first_token": 0.5}]},
        }
    )
    script = Script.model_validate_json(text)
    assert script.replies[1].tool_calls == [ToolCall(name="w", arguments={"c": 1})]
    assert script.replies[2].has_json and script.replies[2].data is None
    assert not script.replies[3].has_json
    assert Script.model_validate(script.to_json()) == script
    with pytest.raises(pydantic.ValidationError):
        Reply(text="a", json={"b": 1})
    with pytest.raises(pydantic.ValidationError):
        Reply(status=200)
    with pytest.raises(pydantic.ValidationError):
        Reply.model_validate({"txt": "typo"})


async def test_server_life_cycle() -> None:
    server = ScriptedModelServer(port=0)
    with pytest.raises(RuntimeError):
        _ = server.port
    async with server:
        assert server.port > 0
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{server.base_url}/models")).status_code == 200
        port = server.port
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{port}/v1/models")


async def test_cancelling_the_caller_still_shuts_down() -> None:
    server = ScriptedModelServer()
    with anyio.move_on_after(0.05):
        async with server:
            port = server.port
            await anyio.sleep_forever()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{port}/v1/models")
    async with ScriptedModelServer(port=port) as again:
        assert again.port == port


async def test_a_server_cannot_be_entered_twice(server: ScriptedModelServer) -> None:
    with pytest.raises(RuntimeError):
        await server.__aenter__()


async def test_errors_inside_the_block_are_not_wrapped() -> None:
    with pytest.raises(KeyError):
        async with ScriptedModelServer():
            raise KeyError("mine")


async def test_two_servers_cannot_share_a_port(server: ScriptedModelServer) -> None:
    with pytest.raises(OSError):
        async with ScriptedModelServer(port=server.port):
            pass


def test_importing_does_not_import_litellm_or_dspy() -> None:
    code = "import sys, runtime.model_server; print(sorted({'litellm', 'dspy'} & set(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"
