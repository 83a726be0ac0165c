"""Durable runs across a killed IDE server: waiting runs stay answerable, interrupted runs
resume over HTTP without repeating the model calls that finished."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.durable.test_kill import PROCEDURE, model_server, requests_made
from tests.ide_backend.test_cli import start_ide

__all__ = ["model_server"]

ASK = """
writer = Agent { model = "scripted/default", api_base = "URL", system_prompt = "You write." }
Procedure {
  function(input)
    local a = writer("Say hello")
    local ok = Human.approve({ message = "Publish it?" })
    return { ok = ok, text = a.output .. " / " .. writer("Say bye").output }
  end
}
"""


class Server:
    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.process, self.url = start_ide("--workspace", str(workspace))

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def restart(self) -> None:
        self.kill()
        self.process, self.url = start_ide("--workspace", str(self.workspace))

    def get(self, path: str) -> Any:
        return httpx.get(self.url + path, timeout=10).json()

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return httpx.post(self.url + path, json=body, timeout=30)

    def wait_for(self, run_id: str, *statuses: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            detail: dict[str, Any] = self.get(f"api/runs/{run_id}")
            if detail["status"] in statuses:
                return detail
            time.sleep(0.05)
        raise AssertionError(f"run {run_id} is still {detail['status']}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    started = Server(workspace)
    try:
        yield started
    finally:
        if started.process.poll() is None:
            started.process.send_signal(signal.SIGINT)
            started.process.wait(20)


def kinds(workspace: Path, run_id: str) -> Counter[str]:
    with closing(sqlite3.connect(workspace / ".tide" / "runs.db")) as conn:
        rows = conn.execute(
            "SELECT type, data FROM events WHERE run_id = ? AND type NOT IN "
            "('agent_stream_chunk', 'cost')",
            (run_id,),
        ).fetchall()
    return Counter(f"{kind}:{json.loads(data).get('stage', '')}" for kind, data in rows)


def wait_for_requests(url: str, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(requests_made(url)) < count:
        assert time.monotonic() < deadline, "the model was not asked in time"
        time.sleep(0.02)


@pytest.mark.timeout(180)
def test_a_waiting_run_survives_a_killed_server(server: Server, model_server: str) -> None:
    (server.workspace / "ask.tac").write_text(ASK.replace("URL", f"{model_server}/v1"))
    run_id = server.post("api/runs", {"path": "ask.tac", "inputs": {}}).json()["run_id"]
    waiting = server.wait_for(run_id, "waiting")
    request_id = waiting["pending"][0]["request_id"]
    server.restart()
    after = server.get(f"api/runs/{run_id}")
    assert after["status"] == "waiting"
    assert [p["request_id"] for p in after["pending"]] == [request_id]
    listed = server.get("api/runs?status=waiting")["runs"]
    assert [r["id"] for r in listed] == [run_id]
    answered = server.post(f"api/runs/{run_id}/answer", {"request_id": request_id, "value": True})
    assert answered.status_code == 202, answered.text
    done = server.wait_for(run_id, "completed", "failed")
    assert done["status"] == "completed", done["error"]
    assert done["output"]["ok"] is True
    made = Counter(requests_made(model_server))
    assert sorted(made.values()) == [1, 1]  # "Say hello" before the kill, "Say bye" after


@pytest.mark.timeout(300)
def test_killed_twice_mid_run_then_resumed_over_http(server: Server, model_server: str) -> None:
    (server.workspace / "workflow.tac").write_text(PROCEDURE.replace("URL", f"{model_server}/v1"))
    body = {"path": "workflow.tac", "inputs": {}}
    reference_id = server.post("api/runs", body).json()["run_id"]
    reference = server.wait_for(reference_id, "completed", "failed")
    assert reference["status"] == "completed", reference["error"]
    first = requests_made(model_server)
    assert len(first) == 4

    run_id = server.post("api/runs", body).json()["run_id"]
    wait_for_requests(model_server, 4 + 2)  # the planner's call done, a writer's in flight
    server.restart()
    assert server.get(f"api/runs/{run_id}")["error"]["kind"] == "interrupted"
    resumed = server.post(f"api/runs/{run_id}/resume")
    assert resumed.status_code == 202, resumed.text
    wait_for_requests(model_server, len(requests_made(model_server)) + 1)
    server.restart()
    assert server.post(f"api/runs/{run_id}/resume").status_code == 202
    done = server.wait_for(run_id, "completed", "failed")
    assert done["status"] == "completed", done["error"]
    assert done["output"] == reference["output"]

    chain = Counter(requests_made(model_server)[4:])
    assert set(chain) == set(first)
    assert sum(chain.values()) - len(first) <= 2  # at most the call in flight at each kill
    # No event twice: the same events as the uninterrupted run, but for the in-flight calls'.
    assert kinds(server.workspace, run_id) == kinds(server.workspace, reference_id)
    again = server.post(f"api/runs/{run_id}/resume")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_resumable"
