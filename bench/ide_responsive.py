"""How a real ``tide ide`` answers while hostile runs spin, and how fast a cancel frees a slot.

Usage: ``.venv/bin/python bench/ide_responsive.py [--requests N] [--rounds N] [--in-process]``

It starts ``tide ide`` on a workspace of the example procedures plus a procedure stuck in a call
into Lua's C library (which the instruction hook cannot interrupt), with two slots. Then:

- ``idle``: N sequential requests each of ``GET /api/files`` and ``GET /api/runs`` (p50, p99);
- ``spinning``: the same while two stuck runs hold both slots (and a third run waits);
- ``cancel``: for each round, two stuck runs hold the slots and a quick run waits; the time from
  ``POST /api/runs/{id}/cancel`` to the stuck run being ``cancelled`` and to the waiting run
  having started (its slot freed). The goal: API p99 at most 100 ms, a slot freed within 1 s.

``--in-process`` measures the same server running procedures in its own process (the baseline
before executors; a stuck run never frees its slot there, so each cancel is waited for 5 s).
Prints one JSON document. Other work on the machine skews every figure; the load average is
reported with them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
TIDE = str(Path(sys.executable).with_name("tide"))
STUCK = """
Procedure { function(input)
  local s = string.rep("a", 14000)
  while true do s:find(".-b") end
end }
"""
QUICK = "Procedure { function(input) return { done = true } end }\n"
# Waiting longer than this for a slot counts as never.
SLOT_WAIT_S = 5.0


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(p99 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def latencies(client: httpx.Client, path: str, count: int) -> dict[str, float]:
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        response = client.get(path)
        samples.append(time.perf_counter() - began)
        response.raise_for_status()
    return percentiles(samples)


def status(client: httpx.Client, run_id: str) -> str:
    return str(client.get(f"/api/runs/{run_id}").json()["status"])


def wait_for(client: httpx.Client, run_id: str, statuses: set[str], within: float) -> float | None:
    """Seconds until the run has one of ``statuses``; None if not within ``within``."""
    began = time.perf_counter()
    while time.perf_counter() - began < within:
        if status(client, run_id) in statuses:
            return time.perf_counter() - began
        time.sleep(0.01)
    return None


def start(client: httpx.Client, path: str) -> str:
    response = client.post("/api/runs", json={"path": path, "mock": True})
    response.raise_for_status()
    return str(response.json()["run_id"])


def spin_two(client: httpx.Client) -> list[str]:
    runs = [start(client, "stuck.tac"), start(client, "stuck.tac")]
    for run_id in runs:
        if wait_for(client, run_id, {"running"}, 60) is None:
            raise RuntimeError("a stuck run did not start")
    return runs


def cancel_round(client: httpx.Client, stuck: list[str]) -> dict[str, Any]:
    queued = start(client, "quick.tac")
    began = time.perf_counter()
    client.post(f"/api/runs/{stuck[0]}/cancel")
    cancelled = wait_for(client, stuck[0], {"cancelled", "failed"}, SLOT_WAIT_S)
    cancelled_ms = round((time.perf_counter() - began) * 1000, 1)
    freed = wait_for(client, queued, {"running", "completed"}, SLOT_WAIT_S)
    freed_ms = round((time.perf_counter() - began) * 1000, 1)
    return {
        "cancelled_ms": None if cancelled is None else cancelled_ms,
        "slot_freed": freed is not None,
        "cancel_to_next_run_ms": None if freed is None else freed_ms,
    }


def serve(workspace: Path, in_process: bool) -> tuple[subprocess.Popen[bytes], str]:
    command = [TIDE, "ide", "--workspace", str(workspace), "--port", "0", "--max-concurrent", "2"]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "TIDE_WORKER": "off"}
    process = subprocess.Popen(
        [*command, *(["--in-process"] if in_process else [])],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    for _ in range(5):
        found = re.search(rb"(http://127\.0\.0\.1:\d+)/", process.stdout.readline())
        if found:
            return process, found[1].decode()
    process.kill()
    raise RuntimeError("tide ide did not start")


def measure(requests: int, rounds: int, in_process: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        for example in (ROOT / "procedures").glob("*.tac"):
            shutil.copy(example, workspace / example.name)
        (workspace / "stuck.tac").write_text(STUCK)
        (workspace / "quick.tac").write_text(QUICK)
        process, url = serve(workspace, in_process)
        try:
            with httpx.Client(base_url=url, timeout=60) as client:
                while True:  # every file judged: the listing is what it will be
                    files = client.get("/api/files").json()["files"]
                    if all(f["valid"] is not None for f in files):
                        break
                    time.sleep(0.2)
                report: dict[str, Any] = {
                    "mode": "in-process" if in_process else "executors",
                    "idle": {
                        "files": latencies(client, "/api/files", requests),
                        "runs": latencies(client, "/api/runs", requests),
                    },
                }
                stuck = spin_two(client)
                report["spinning"] = {
                    "files": latencies(client, "/api/files", requests),
                    "runs": latencies(client, "/api/runs", requests),
                }
                cancels = []
                for index in range(rounds):
                    if index:
                        for run_id in stuck:
                            client.post(f"/api/runs/{run_id}/cancel")
                        stuck = spin_two(client)
                    cancels.append(cancel_round(client, stuck))
                    if in_process:
                        break  # the slots stay held: later rounds would measure nothing new
                report["cancel"] = cancels
        finally:
            process.kill()
            process.wait()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per endpoint")
    parser.add_argument("--rounds", type=int, default=5, help="cancels measured")
    parser.add_argument("--in-process", action="store_true", help="the server's own process")
    args = parser.parse_args()
    report = measure(max(20, args.requests), max(1, args.rounds), args.in_process)
    report["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
