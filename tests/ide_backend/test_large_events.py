"""Events as large as a procedure can make them: kept cut in the history, and the server gives
back the memory they took once their runs have ended."""

from __future__ import annotations

import re
import signal
import sqlite3
import sys
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from runtime.event_size import MAX_EVENT_BYTES
from tests.ide_backend.test_cli import start_ide

# Six tool calls whose arguments are 8 MiB each.
LARGE_EVENTS = """
echo = Tool { function(args) return { n = #args.text } end }
Procedure {
  function(input)
    local big = string.rep("t", 8 * 1024 * 1024)
    for i = 1, 6 do echo({ text = big .. i }) end
    return { done = true }
  end
}
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads the server's memory from /proc")
@pytest.mark.timeout(120)
def test_large_events_are_kept_cut_and_leave_nothing_in_the_server(tmp_path: Path) -> None:
    (tmp_path / "large.tac").write_text(LARGE_EVENTS)
    process, url = start_ide("--workspace", str(tmp_path), "--max-concurrent", "4")
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            run_all(client, 1)  # the modules and caches a first run loads
            settled = resident_mib(process.pid)
            run_all(client, 16)
            time.sleep(1.0)
            held = resident_mib(process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(20)
    with closing(sqlite3.connect(tmp_path / ".tide" / "runs.db")) as conn:
        rows, largest = conn.execute(
            "SELECT count(*), max(length(data)) FROM events WHERE type = 'tool_call'"
        ).fetchone()
    assert rows == 17 * 12 and largest <= MAX_EVENT_BYTES
    # With the whole arguments in the history, the server kept about 55 MiB more here: reading
    # a run's last event number read its largest rows too.
    assert held < settled + 25, f"{held:.0f} MiB after the runs, {settled:.0f} before"


def run_all(client: httpx.Client, count: int) -> None:
    ids = []
    for _ in range(count):
        response = client.post("/api/runs", json={"path": "large.tac", "mock": True})
        assert response.status_code == 201, response.text
        ids.append(response.json()["run_id"])
    deadline = time.monotonic() + 90
    for run_id in ids:
        while (status := client.get(f"/api/runs/{run_id}").json()["status"]) in (
            "queued",
            "running",
        ):
            assert time.monotonic() < deadline, "the runs did not end"
            time.sleep(0.1)
        assert status == "completed", status


def resident_mib(pid: int) -> float:
    found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    assert found
    return int(found[1]) / 1024
