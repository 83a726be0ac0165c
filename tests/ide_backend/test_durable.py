"""Waiting for a person and resuming through the IDE's API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from runtime.events import RunStartedEvent
from tests.durable.test_human_multiple import ONE
from tests.ide_backend.conftest import Ide

pytestmark = pytest.mark.anyio

ASK = """
writer = Agent { model = "scripted/default", system_prompt = "You write." }
Procedure {
  output = { ok = field.boolean{}, text = field.string{} },
  function(input)
    local a = writer("Say hello")
    local ok = Human.approve({ message = "Publish it?", timeout = TIMEOUT })
    local b = writer("Say bye")
    return { ok = ok, text = a.output .. " / " .. b.output }
  end
}
"""


async def wait_for(ide: Ide, run_id: str, *statuses: str) -> dict[str, Any]:
    with anyio.fail_after(30):
        while True:
            detail: dict[str, Any] = (await ide.client.get(f"/api/runs/{run_id}")).json()
            if detail["status"] in statuses:
                return detail
            await anyio.sleep(0.05)


async def test_a_run_waits_and_is_answered_over_http(ide: Ide, workspace: Path) -> None:
    (workspace / "ask.tac").write_text(ASK.replace("TIMEOUT", "3600"))
    run_id = await ide.start("ask.tac")
    detail = await wait_for(ide, run_id, "waiting", "failed")
    assert detail["status"] == "waiting"
    [pending] = detail["pending"]
    assert set(pending) == {
        "request_id", "kind", "message", "options", "default", "timeout_s", "created_at", "fields",
    }  # fmt: skip
    assert pending["kind"] == "approve" and pending["message"] == "Publish it?"
    listed = (await ide.client.get("/api/runs", params={"status": "waiting"})).json()["runs"]
    assert [r["id"] for r in listed] == [run_id]

    wrong = await ide.client.post(
        f"/api/runs/{run_id}/answer", json={"request_id": "nope", "value": True}
    )
    assert wrong.status_code == 409
    assert wrong.json()["error"]["code"] == "request_mismatch"
    assert wrong.json()["error"]["pending"][0]["request_id"] == pending["request_id"]

    answered = await ide.client.post(
        f"/api/runs/{run_id}/answer", json={"request_id": pending["request_id"], "value": True}
    )
    assert answered.status_code == 202, answered.text
    done = await wait_for(ide, run_id, "completed", "failed")
    assert done["status"] == "completed", done["error"]
    assert done["output"]["ok"] is True
    events = await ide.services.store.read_events(run_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    types = [e.type for e in events]
    assert types.count("human_request") == 1 and types.count("human_response") == 1
    # The answer resumed it: a second attempt begins after the answer, once, marked resumed.
    starts = [e for e in events if isinstance(e, RunStartedEvent)]
    assert [e.resumed for e in starts] == [False, True]
    assert types.index("human_response") == types.index("run_started", 1) - 1
    assert types.count("run_completed") == 1 and types[-1] == "run_completed"
    requests = (await ide.services.runtime.scripted_server()).requests
    assert len(requests) == 2  # "Say hello" once, "Say bye" once

    again = await ide.client.post(f"/api/runs/{run_id}/resume")
    assert again.status_code == 409
    assert "completed" in again.json()["error"]["message"]


async def test_a_timeout_answers_with_the_default(ide: Ide, workspace: Path) -> None:
    (workspace / "ask.tac").write_text(
        ASK.replace("TIMEOUT", "0.2").replace('"Publish it?",', '"Publish it?", default = false,')
    )
    run_id = await ide.start("ask.tac")
    done = await wait_for(ide, run_id, "completed", "failed")
    assert done["status"] == "completed", done["error"]
    assert done["output"]["ok"] is False
    events = await ide.services.store.read_events(run_id)
    [response] = [e for e in events if e.type == "human_response"]
    assert response.answered_by == "default"


async def test_a_multiple_request_is_answered_once_with_every_field(
    ide: Ide, workspace: Path
) -> None:
    (workspace / "fields.tac").write_text(ONE)
    run_id = await ide.start("fields.tac")
    detail = await wait_for(ide, run_id, "waiting", "failed")
    [pending] = detail["pending"]
    assert pending["kind"] == "multiple"
    assert [(f["id"], f["type"]) for f in pending["fields"]] == [
        ("target", "select"), ("confirm", "approve"),
    ]  # fmt: skip
    url = f"/api/runs/{run_id}/answer"
    bad = await ide.client.post(
        url, json={"request_id": pending["request_id"], "value": {"target": "moon"}}
    )
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["code"] == "invalid_answer"
    assert set(error["fields"]) == {"target", "confirm"}
    assert "'target' must be one of" in error["message"]
    value = {"target": "prod", "confirm": True}
    answered = await ide.client.post(
        url, json={"request_id": pending["request_id"], "value": value}
    )
    assert answered.status_code == 202, answered.text
    done = await wait_for(ide, run_id, "completed", "failed")
    assert done["status"] == "completed", done["error"]
    assert done["output"] == value
    late = await ide.client.post(url, json={"request_id": pending["request_id"], "value": value})
    assert late.status_code == 409 and late.json()["error"]["code"] == "request_mismatch"


async def test_an_answer_given_while_the_server_lets_the_waiting_run_go_resumes_it(
    ide: Ide, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workspace / "ask.tac").write_text(ASK.replace("TIMEOUT", "60"))
    manager = ide.services.manager
    # The server lets go of a waiting run once the store has all of its events: held open here,
    # the moment a quick person (or program) answers as the question shows.
    letting_go = anyio.Event()
    stored = manager._stored

    async def held(run_id: str, seq: int) -> bool:
        await letting_go.wait()
        return await stored(run_id, seq)

    monkeypatch.setattr(manager, "_stored", held)
    run_id = await ide.start("ask.tac")
    pending = (await wait_for(ide, run_id, "waiting"))["pending"][0]
    live = manager.get(run_id)
    assert live is not None and live.record.status == "waiting" and not live.done.is_set()
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: _release_after(letting_go, 0.3))
        answered = await ide.client.post(
            f"/api/runs/{run_id}/answer",
            json={"request_id": pending["request_id"], "value": True},
        )
    assert answered.status_code == 202, answered.text
    done = await wait_for(ide, run_id, "completed", "failed")
    assert done["status"] == "completed", done["error"]
    assert done["output"]["ok"] is True


async def _release_after(event: anyio.Event, seconds: float) -> None:
    await anyio.sleep(seconds)
    event.set()
