"""The AI SDK UI message stream: the translation of a run's events, resuming, and the
endpoints' answers to bodies they cannot run. (The AI SDK's own client reads the endpoints in
``test_ui_stream_ai_sdk``.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ide_backend.ui_messages import DONE, UIMessageEncoder
from ide_backend.ui_stream import first_string_input, last_user_text
from runtime import MemoryHandler, run_procedure
from runtime.events import Event
from runtime.source import ProcedureSource
from tests.ide_backend.conftest import Ide

pytestmark = pytest.mark.anyio

CHAT = """
lookup = Tool {
  description = "Look a word up",
  input = { word = field.string{ required = true } },
  function(args)
    if args.word == "" then error("nothing to look up") end
    return { word = args.word, meaning = "the rise and fall of the sea" }
  end
}

helper = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = "You answer questions about the sea.",
  tools = { lookup },
}

Mocks {
  helper = {
    message = "Tides rise and fall twice a day.",
    tool_calls = { { tool = "lookup", args = { word = "tide" } }, { tool = "lookup", args = { word = "" } } },
  },
}

Procedure {
  input = {
    question = field.string{ required = true, description = "what the user asked" },
    tone = field.string{ default = "plain" },
  },
  output = { reply = field.string{ required = true }, heard = field.string{} },
  function(input)
    local r = helper(input.question)
    Log.info("answered", { chars = #r.response })
    return { reply = r.output, heard = input.question }
  end
}
"""


def frames(data: bytes) -> list[tuple[int | None, list[dict[str, Any]]]]:
    """The stream's messages as (id, chunks up to and including the one with that id)."""
    out: list[tuple[int | None, list[dict[str, Any]]]] = []
    pending: list[dict[str, Any]] = []
    for message in data.decode().split("\n\n"):
        if not message:
            continue
        lines = dict(line.split(": ", 1) for line in message.split("\n"))
        if lines["data"] == "[DONE]":
            out.append((None, [{"type": "[DONE]"}]))
            continue
        pending.append(json.loads(lines["data"]))
        if "id" in lines:
            out.append((int(lines["id"]), pending))
            pending = []
    assert not pending, "every event's last chunk carries its id"
    return out


async def chat_events() -> list[Event]:
    events = MemoryHandler()
    result = await run_procedure(
        ProcedureSource.from_text(CHAT, "chat.tac"),
        {"question": "What is a tide?"},
        handlers=[events],
        mock=True,
    )
    assert result.status == "completed", result.error
    return events.events


async def test_a_run_becomes_one_assistant_message_of_ui_chunks() -> None:
    events = await chat_events()
    data = UIMessageEncoder().encode(events)
    assert data.endswith(DONE)
    chunks = [chunk for _, group in frames(data) for chunk in group]
    types = [c["type"] for c in chunks]
    assert types[0] == "start" and types[-2:] == ["finish", "[DONE]"]
    assert chunks[0]["messageId"] == events[0].run_id
    assert types.count("start-step") == types.count("finish-step") == 1
    text = "".join(c["delta"] for c in chunks if c["type"] == "text-delta")
    assert text == "Tides rise and fall twice a day."
    assert types.index("text-start") < types.index("text-delta") < types.index("text-end")
    tools = [c for c in chunks if c["type"].startswith("tool-")]
    # Tools run one after the other, each started, then done.
    assert [c["type"] for c in tools] == [
        "tool-input-start",
        "tool-input-available",
        "tool-output-available",
        "tool-input-start",
        "tool-input-available",
        "tool-output-error",
    ]
    assert [c["input"] for c in tools if c["type"] == "tool-input-available"] == [
        {"word": "tide"},
        {"word": ""},
    ]
    ok = next(c for c in tools if c["type"] == "tool-output-available")
    assert ok["output"] == {"word": "tide", "meaning": "the rise and fall of the sea"}
    failed = next(c for c in tools if c["type"] == "tool-output-error")
    assert "nothing to look up" in failed["errorText"]
    turns = [c for c in chunks if c["type"] == "data-tide-turn"]
    assert [t["data"]["stage"] for t in turns] == ["started", "completed"]
    assert {t["id"] for t in turns} == {"turn-helper-1"}
    cost = next(c for c in chunks if c["type"] == "data-tide-cost")
    assert cost["data"]["model"] == "openai/gpt-4o-mini" and cost["data"]["chunks"] > 1
    logs = [c["data"] for c in chunks if c["type"] == "data-tide-log"]
    assert {"level": "info", "message": "answered"}.items() <= logs[-1].items()
    finish = chunks[-2]
    assert finish["finishReason"] == "stop"
    assert finish["messageMetadata"]["output"] == {
        "reply": "Tides rise and fall twice a day.",
        "heard": "What is a tide?",
    }


def merged(framed: list[tuple[int | None, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """The chunks, with consecutive deltas of a text part as one (a client sees the same)."""
    out: list[dict[str, Any]] = []
    for _, group in framed:
        for chunk in group:
            last = out[-1] if out else None
            if (
                chunk["type"] == "text-delta"
                and last is not None
                and last["type"] == "text-delta"
                and last["id"] == chunk["id"]
            ):
                out[-1] = {**last, "delta": last["delta"] + chunk["delta"]}
            else:
                out.append(chunk)
    return out


async def test_resuming_after_any_event_gives_exactly_the_rest() -> None:
    events = await chat_events()
    # Fed an event at a time, as a live run whose reader keeps up.
    encoder = UIMessageEncoder()
    live = frames(b"".join(encoder.encode([event]) for event in events))
    assert [seq for seq, _ in live if seq is not None] == sorted(
        {seq for seq, _ in live if seq is not None}
    )
    assert merged(frames(UIMessageEncoder().encode(events))) == merged(live)
    for index, (seq, _) in enumerate(live):
        if seq is None:
            continue
        resumed = frames(UIMessageEncoder().encode(events, after=seq))
        assert merged(resumed) == merged(live[index + 1 :]), seq


async def test_a_failed_run_ends_with_an_error_where_it_failed_and_a_cancelled_one_aborts() -> None:
    failing = "Procedure {\n  function(input)\n    error('the tide is out')\n  end\n}\n"
    events = MemoryHandler()
    await run_procedure(ProcedureSource.from_text(failing, "ebb.tac"), handlers=[events])
    chunks = [c for _, group in frames(UIMessageEncoder().encode(events.events)) for c in group]
    error = next(c for c in chunks if c["type"] == "error")
    assert error["errorText"].startswith("ebb.tac:3: ")
    assert "the tide is out" in error["errorText"]
    assert chunks[-2]["type"] == "finish" and chunks[-2]["finishReason"] == "error"
    assert chunks[-2]["messageMetadata"]["status"] == "failed"


def test_the_message_is_the_last_user_messages_text() -> None:
    messages = [
        {"id": "1", "role": "user", "parts": [{"type": "text", "text": "first"}]},
        {"id": "2", "role": "assistant", "parts": [{"type": "text", "text": "reply"}]},
        {
            "id": "3",
            "role": "user",
            "parts": [{"type": "text", "text": "line one"}, {"type": "file", "url": "x"}],
        },
    ]
    assert last_user_text(messages) == "line one"
    assert last_user_text([{"role": "user", "content": "older clients"}]) == "older clients"


def test_the_first_string_input_is_the_first_declared_in_the_file() -> None:
    source = ProcedureSource.from_text(CHAT, "chat.tac")
    assert first_string_input(source, ["tone", "question"]) == "question"
    swapped = ProcedureSource.from_text(
        "input = { n = field.number{}, tone = field.string{}, question = field.string{} }"
    )
    assert first_string_input(swapped, ["question", "tone"]) == "tone"
    assert first_string_input(source, []) is None


async def test_bodies_that_cannot_run_are_answered_with_json_errors(
    ide: Ide, workspace: Path
) -> None:
    (workspace / "chat.tac").write_text(CHAT)
    (workspace / "numbers.tac").write_text(
        "Procedure { input = { n = field.number{} }, function(input) return {} end }"
    )
    messages = [{"id": "1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}]
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"path": "numbers.tac", "messages": messages}, 422, "no string input"),
        ({"path": "chat.tac", "messages": "hi"}, 422, "must be a list"),
        ({"path": "chat.tac", "messages": [{"role": "assistant", "parts": []}]}, 422, "no user"),
        ({"source": "Procedure {", "messages": messages}, 400, "untitled.tac:1"),
        ({"messages": messages}, 422, "'path'"),
        ({"path": "chat.tac", "mock": True}, 422, "question"),
    ]
    for body, status, words in cases:
        answer = await ide.client.post("/api/runs/ui-stream", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert words in answer.json()["error"]["message"], answer.text
    missing = await ide.client.get("/api/runs/nope/ui-stream")
    assert missing.status_code == 404
    bad = await ide.client.get("/api/runs/nope/ui-stream", headers={"Last-Event-ID": "x"})
    assert bad.status_code == 400


async def test_a_run_from_inputs_streams_and_a_finished_one_replays_from_the_store(
    ide: Ide, workspace: Path
) -> None:
    (workspace / "chat.tac").write_text(CHAT)
    body = {"path": "chat.tac", "inputs": {"question": "Why?"}, "mock": True}
    answer = await ide.client.post("/api/runs/ui-stream", json=body)
    assert answer.status_code == 200
    assert answer.headers["x-vercel-ai-ui-message-stream"] == "v1"
    run_id = answer.headers["x-tide-run-id"]
    live = frames(answer.content)
    assert live[-2][1][-1]["messageMetadata"]["output"]["heard"] == "Why?"
    # Gone from memory, the run is read back from the store the same way.
    live_run = ide.services.manager.get(run_id)
    if live_run is not None:
        await live_run.done.wait()
    assert ide.services.manager.get(run_id) is None
    stored = await ide.client.get(f"/api/runs/{run_id}/ui-stream")
    assert merged(frames(stored.content)) == merged(live)
    after = live[3][0]
    resumed = await ide.client.get(
        f"/api/runs/{run_id}/ui-stream", headers={"Last-Event-ID": str(after)}
    )
    assert merged(frames(resumed.content)) == merged(live[4:])


ENDLESS = "Procedure { function(input) while true do end end }"


async def _status_after_leaving(ide: Ide, body: dict[str, Any]) -> tuple[str, str]:
    import anyio

    async with ide.client.stream("POST", "/api/runs/ui-stream", json=body) as answer:
        run_id = answer.headers["x-tide-run-id"]
        async for part in answer.aiter_bytes():
            assert b'"type":"start"' in part
            break
    # Closed before the end: the run's fate is decided by the body.
    with anyio.fail_after(30):
        while True:
            status = (await ide.client.get(f"/api/runs/{run_id}")).json()["status"]
            if status != "running" or body.get("detach"):
                return run_id, status
            await anyio.sleep(0.05)


async def test_a_client_that_leaves_cancels_its_run_unless_it_detached(ide: Ide) -> None:
    _, status = await _status_after_leaving(ide, {"source": ENDLESS})
    assert status == "cancelled"
    run_id, status = await _status_after_leaving(ide, {"source": ENDLESS, "detach": True})
    assert status == "running"
    # Still running: a reader comes and goes, then the run is stopped on purpose.
    async with ide.client.stream("GET", f"/api/runs/{run_id}/ui-stream") as answer:
        async for _ in answer.aiter_bytes():
            break
    assert (await ide.client.get(f"/api/runs/{run_id}")).json()["status"] == "running"
    stopped = await ide.client.post(f"/api/runs/{run_id}/cancel")
    assert stopped.json()["status"] == "cancelled"
