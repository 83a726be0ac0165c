"""What a finished run leaves in the IDE server's memory: a real ``tide ide`` process runs RUNS
procedures that each log about MB of events, one after another, and its resident memory is
read before, at the peak, and after they all ended.

    python bench/ide_memory.py [--runs 30] [--mb 2.4] [--executors]

Prints JSON: the server's RSS (MiB) idle after a first run (``before``), at the highest sample
while the runs go (``peak``) and once they have all ended and a garbage collection had its
chance (``after``); ``after - before`` is what the runs left behind, beside the events they
made (``events_mib``). Other work on the machine skews the figures; the load average is
reported with them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from engine import tree_rss_mib

MIB = 1024 * 1024
LOG_CHARS = 60_000
LOUD = """
Procedure {
  function(input)
    local block = string.rep("x", %d)
    for i = 1, %d do Log.info(block .. i) end
    return { done = true }
  end
}
"""


def start_ide(workspace: Path, executors: bool) -> tuple[subprocess.Popen[bytes], str]:
    command = [sys.executable, "-m", "runtime", "ide", "--workspace", str(workspace)]
    command += ["--port", "0", *([] if executors else ["--in-process"])]
    process = subprocess.Popen(
        command,
        cwd=workspace,
        env={**os.environ, "TIDE_WORKER": "off"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    for _ in range(10):
        found = re.search(rb"(http://127\.0\.0\.1:\d+)/", process.stdout.readline())
        if found:
            return process, found[1].decode()
    process.kill()
    raise SystemExit("bench/ide_memory.py: the IDE did not start")


def steady_rss_mib(pid: int, *, within_mib: float = 2.0, limit_s: float = 120.0) -> float:
    """The process tree's RSS once two readings a second apart agree: the server loads the
    model libraries in the background after it starts."""
    deadline = time.monotonic() + limit_s
    last = tree_rss_mib(pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = tree_rss_mib(pid)
        if abs(now - last) < within_mib:
            return now
        last = now
    return last


def run_one(client: httpx.Client, pid: int) -> tuple[str, float]:
    for _ in range(5):
        # The first inspection in a fresh executor server may run out of time on a busy machine.
        answer = client.post("/api/runs", json={"path": "loud.tac", "mock": True}).json()
        if "run_id" in answer:
            break
        time.sleep(1.0)
    run_id = answer["run_id"]
    peak = 0.0
    while True:
        peak = max(peak, tree_rss_mib(pid))
        status = client.get(f"/api/runs/{run_id}").json()["status"]
        if status not in ("queued", "running"):
            return status, peak
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--mb", type=float, default=2.4, help="MB of log events per run")
    parser.add_argument("--executors", action="store_true", help="runs in executor processes")
    args = parser.parse_args()
    logs = max(1, int(args.mb * 1e6 / LOG_CHARS))
    with tempfile.TemporaryDirectory() as workdir:
        workspace = Path(workdir)
        (workspace / "loud.tac").write_text(LOUD % (LOG_CHARS, logs))
        process, url = start_ide(workspace, args.executors)
        try:
            with httpx.Client(base_url=url, timeout=60) as client:
                run_one(client, process.pid)  # what every run loads once
                before = steady_rss_mib(process.pid)
                peak, statuses = before, []
                for _ in range(args.runs):
                    status, seen = run_one(client, process.pid)
                    statuses.append(status)
                    peak = max(peak, seen)
                # The server collects garbage when runs have ended and it is idle.
                after = steady_rss_mib(process.pid)
        finally:
            process.terminate()
            process.wait(15)
    report = {
        "runs": args.runs,
        "executors": args.executors,
        "completed": statuses.count("completed"),
        "events_mib": round(args.runs * logs * LOG_CHARS / MIB, 1),
        "rss_before_mib": round(before, 1),
        "rss_peak_mib": round(peak, 1),
        "rss_after_mib": round(after, 1),
        "rss_left_behind_mib": round(after - before, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(report, indent=2))
    return 0 if report["completed"] == args.runs else 1


if __name__ == "__main__":
    raise SystemExit(main())
