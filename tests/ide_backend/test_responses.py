"""``sse_response`` and ``ui_message_stream_response`` in a user's own Starlette app: the
controller pattern, where an endpoint starts a run and streams it, and another resumes it."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ide_backend import sse_response, ui_message_stream_response
from ide_backend.server import running_server
from runtime import RunStream, Runtime
from runtime.models import FunctionModel
from runtime.models.base import ModelRequest
from runtime.source import ProcedureSource
from tests.ide_backend.test_ui_stream import frames, merged

pytestmark = pytest.mark.anyio

STORY = """
writer = Agent { model = "openai/gpt-4o-mini", system_prompt = "You write." }
Procedure {
  input = { topic = field.string{ default = "the sea" } },
  function(input)
    return { story = writer("Write about " .. input.topic).output }
  end
}
"""
STORY_TEXT = "The sea rose and fell, and the little boats rose and fell with it."


async def slow_writer(request: ModelRequest) -> str:
    # Quiet for a while before answering, so that keep-alives go out meanwhile.
    await anyio.sleep(0.4)
    return STORY_TEXT


def user_app() -> Starlette:
    """What a user writes: a runtime for the app's lifetime, an endpoint that starts a run
    and streams it, and one that follows a run already started."""
    streams: dict[str, RunStream] = {}
    models = {"openai/gpt-4o-mini": FunctionModel(slow_writer)}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with Runtime() as runtime:
            app.state.runtime = runtime
            yield

    def start(request: Request, body: dict[str, Any]) -> RunStream:
        source = body.get("source", STORY)
        stream = request.app.state.runtime.stream(
            ProcedureSource.from_text(source, "story.tac"), body.get("inputs"), models=models
        )
        streams[stream.run_id] = stream
        return stream

    async def ask(request: Request) -> Response:
        return sse_response(start(request, await request.json()), request, keepalive_s=0.1)

    async def follow(request: Request) -> Response:
        return sse_response(streams[request.path_params["run_id"]], request)

    async def chat(request: Request) -> Response:
        stream = start(request, await request.json())
        return ui_message_stream_response(stream, request)

    return Starlette(
        routes=[
            Route("/ask", ask, methods=["POST"]),
            Route("/ask/{run_id}", follow),
            Route("/chat", chat, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


def messages(text: str) -> list[dict[str, Any]]:
    out = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        fields: dict[str, Any] = {"comment": block.startswith(":")}
        for line in block.splitlines():
            if ": " in line and not line.startswith(":"):
                key, value = line.split(": ", 1)
                fields[key] = value
        out.append(fields)
    return out


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with (
        running_server(user_app()) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        yield http


async def test_sse_response_streams_the_run_as_the_ide_does_with_keepalives(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post("/ask", json={"inputs": {"topic": "boats"}})
    assert answer.headers["content-type"].startswith("text/event-stream")
    run_id = answer.headers["x-tide-run-id"]
    got = messages(answer.text)
    assert any(m["comment"] for m in got), "keep-alive comments while the model is quiet"
    events = [m for m in got if not m["comment"]]
    ids = [int(m["id"]) for m in events]
    assert ids == sorted(ids) and ids[0] == 1
    assert events[0]["event"] == "run_started"
    assert events[-1]["event"] == "run_completed"
    datas = [json.loads(m["data"]) for m in events]
    assert all(d["run_id"] == run_id for d in datas)
    chunks = [d for d in datas if d["type"] == "agent_stream_chunk"]
    assert chunks and all("accumulated_text" not in d for d in chunks)
    assert "".join(d["chunk_text"] for d in chunks) == STORY_TEXT
    assert datas[-1]["output"] == {"story": STORY_TEXT}

    # Following the same run after an event gives exactly the events after it.
    middle = ids[len(ids) // 2]
    again = await client.get(f"/ask/{run_id}", headers={"Last-Event-ID": str(middle)})
    rest = [m for m in messages(again.text) if not m["comment"]]
    assert int(rest[0]["id"]) > middle
    assert rest[-1]["event"] == "run_completed"
    whole = await client.get(f"/ask/{run_id}")
    rebuilt = [
        json.loads(m["data"])["chunk_text"]
        for m in messages(whole.text)
        if m.get("event") == "agent_stream_chunk"
    ]
    assert "".join(rebuilt) == STORY_TEXT


async def test_sse_response_compresses_for_clients_that_accept_it(
    client: httpx.AsyncClient,
) -> None:
    async with client.stream(
        "POST", "/ask", json={}, headers={"Accept-Encoding": "gzip"}
    ) as answer:
        assert answer.headers["content-encoding"] == "gzip"
        raw = b"".join([part async for part in answer.aiter_raw()])
    assert b"event: run_completed" in gzip.decompress(raw)


async def test_a_run_that_cannot_start_is_one_error_message(client: httpx.AsyncClient) -> None:
    answer = await client.post("/ask", json={"source": "Procedure {\n  function(input)\n"})
    [error] = [m for m in messages(answer.text) if not m["comment"]]
    assert error["event"] == "error"
    info = json.loads(error["data"])
    assert info["kind"] == "syntax" and info["file"] == "story.tac"


async def test_ui_message_stream_response_speaks_the_ai_sdk_protocol(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post("/chat", json={"inputs": {"topic": "boats"}})
    assert answer.headers["x-vercel-ai-ui-message-stream"] == "v1"
    chunks = merged(frames(answer.content.replace(b"\r\n", b"\n")))
    parts = [c for c in chunks if c["type"] != "[DONE]"]
    assert parts[0]["type"] == "start"
    assert parts[0]["messageId"] == answer.headers["x-tide-run-id"]
    texts = [c["delta"] for c in parts if c["type"] == "text-delta"]
    assert texts == [STORY_TEXT]
    assert parts[-1]["type"] == "finish"
    assert parts[-1]["messageMetadata"]["output"] == {"story": STORY_TEXT}
