"""The UI message stream endpoints read by the AI SDK itself: the ``ai`` npm package's stream
parser and chunk schema, ``readUIMessageStream``, and the Chat core that ``useChat`` wraps,
driven by ``frontend/scripts/ai-sdk-client.mjs`` against a real server, with Tide's app mounted
under a prefix in a Starlette app of the user's."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from ide_backend import create_app
from ide_backend.server import running_server
from tests.ide_backend.test_ui_stream import CHAT

pytestmark = pytest.mark.anyio

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
CLIENT = FRONTEND / "scripts" / "ai-sdk-client.mjs"
NODE = shutil.which("node")
ENDLESS = """
Procedure {
  input = { question = field.string{} },
  function(input)
    while true do end
  end
}
"""
FAILING = """
helper = Agent { model = "openai/gpt-4o-mini", system_prompt = "You help." }
Mocks { helper = { message = "Let me see." } }
Procedure {
  input = { question = field.string{} },
  function(input)
    helper(input.question)
    error("the tide went out")
  end
}
"""


def _need_the_ai_package() -> None:
    if NODE is not None and (FRONTEND / "node_modules" / "ai" / "package.json").is_file():
        return
    message = "needs node and the frontend's npm packages (cd frontend && npm ci)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
async def base(tmp_path: Path) -> AsyncIterator[str]:
    _need_the_ai_package()
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "chat.tac").write_text(CHAT)
    (workspace / "failing.tac").write_text(FAILING)
    (workspace / "endless.tac").write_text(ENDLESS)
    tide = create_app(workspace=workspace, api_only=True)
    parent = Starlette(routes=[Mount("/assistant", app=tide)], lifespan=tide.lifespan)
    async with running_server(parent) as url:
        yield f"{url}/assistant"


async def client(base: str, path: str, text: str, **options: Any) -> dict[str, Any]:
    assert NODE is not None
    spec = json.dumps({"base": base, "path": path, "text": text, "mock": True, **options})
    with anyio.fail_after(90):
        done = await anyio.run_process([NODE, str(CLIENT), spec], cwd=FRONTEND, check=False)
    assert done.returncode == 0, done.stderr.decode()
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def parts_of(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [p for p in message["parts"] if p["type"] == kind]


async def test_use_chat_drives_a_procedure_and_reads_its_run(base: str) -> None:
    report = await client(base, "chat.tac", "What is a tide?")
    assert report["status"] == 200
    # The protocol's headers, as the SDK itself lists them (the charset aside).
    for name, value in report["expectedHeaders"].items():
        assert report["headers"][name].split(";")[0] == value, name
    assert report["invalid"] == [] and report["readErrors"] == []
    assert report["endsWithDone"]
    types = [c["type"] for c in report["chunks"]]
    assert types[0] == "start" and types[-1] == "finish"
    for kind in (
        "start-step",
        "text-start",
        "text-delta",
        "text-end",
        "tool-input-start",
        "tool-input-available",
        "tool-output-available",
        "tool-output-error",
        "data-tide-turn",
        "data-tide-cost",
        "data-tide-log",
        "finish-step",
    ):
        assert kind in types, kind

    message = report["message"]
    assert message["id"] == report["runId"] and message["role"] == "assistant"
    assert message["metadata"]["status"] == "completed"
    # The last user message's text was the procedure's first string input.
    assert message["metadata"]["output"] == {
        "reply": "Tides rise and fall twice a day.",
        "heard": "What is a tide?",
    }
    [text] = parts_of(message, "text")
    assert text == {"type": "text", "text": "Tides rise and fall twice a day.", "state": "done"}
    tools = parts_of(message, "tool-lookup")
    assert [(t["state"], t["input"]) for t in tools] == [
        ("output-available", {"word": "tide"}),
        ("output-error", {"word": ""}),
    ]
    assert tools[0]["output"] == {"word": "tide", "meaning": "the rise and fall of the sea"}
    assert "nothing to look up" in tools[1]["errorText"]
    [turn] = parts_of(message, "data-tide-turn")
    assert turn["data"]["stage"] == "completed" and turn["data"]["agent"] == "helper"
    [cost] = parts_of(message, "data-tide-cost")
    assert cost["data"]["model"] == "openai/gpt-4o-mini"

    # The GET resumes after an event id with exactly the rest, and replays it all without one.
    resumed = report["resumed"]
    assert 0 < len(resumed) < len(report["chunks"]) and resumed[0]["type"] != "start"
    assert report["chunks"][-len(resumed) :] == resumed
    assert report["replayed"] == message

    # useChat's own path: the Chat core posts the messages and builds the reply.
    chat = report["chat"]
    assert chat["status"] == "ready" and chat["error"] is None
    assert chat["finished"] == [{"isError": False, "isAbort": False}]
    user, reply = chat["messages"]
    assert user["role"] == "user" and reply["role"] == "assistant"
    assert reply["id"] != message["id"]
    assert parts_of(reply, "text")[0]["text"] == "Tides rise and fall twice a day."
    assert reply["metadata"]["output"]["heard"] == "What is a tide?"
    assert report["chatReplay"]["parts"] == reply["parts"]


async def test_a_failing_procedure_is_an_error_in_use_chat(base: str) -> None:
    report = await client(base, "failing.tac", "Where did it go?")
    assert report["invalid"] == []
    errors = [c for c in report["chunks"] if c["type"] == "error"]
    assert len(errors) == 1 and errors[0]["errorText"].startswith("failing.tac:8: ")
    assert report["chunks"][-1] == {
        "type": "finish",
        "finishReason": "error",
        "messageMetadata": report["chunks"][-1]["messageMetadata"],
    }
    assert parts_of(report["message"], "text")[0]["text"] == "Let me see."
    chat = report["chat"]
    assert chat["status"] == "error"
    assert "the tide went out" in chat["error"]
    assert chat["finished"] == [{"isError": True, "isAbort": False}]


async def test_use_chats_stop_cancels_the_run(base: str) -> None:
    report = await client(base, "endless.tac", "Go on forever", stop=True)
    assert report["chatStatus"] == "ready"
    assert report["runStatus"] == "cancelled"
