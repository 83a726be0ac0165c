"""How fast ``tide test`` runs a suite of specifications.

Two measurements, printed as JSON:

- ``process``: wall time of ``tide test PATH`` as a whole process (start-up, imports,
  inspection, every scenario), the median of several runs;
- ``warm``: the suite run again and again in one process once imports and caches are warm:
  the time of one scenario (each step, its run, its checks) run alone, and the suite's wall
  time with the default number of workers.

    python bench/spec_suite.py [PATH] [--process-runs 3] [--warm-runs 5]

Targets: a warm scenario under 20 ms, the whole suite process under 3 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_TARGET_MS = 20.0
PROCESS_TARGET_S = 3.0


def measure_process(path: str, runs: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "runtime", "test", path]
    times, exit_code = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - started)
        exit_code = done.returncode
    return {
        "command": " ".join(["tide", "test", path]),
        "exit_code": exit_code,
        "median_s": round(statistics.median(times), 3),
        "runs_s": [round(t, 3) for t in times],
    }


async def measure_warm(path: str, runs: int) -> dict[str, Any]:
    from runtime.testing import TestOptions, run_tests

    await run_tests([path], TestOptions(workers=1))  # warm-up: imports, caches
    durations: list[float] = []
    suite_walls: list[float] = []
    sequential_walls: list[float] = []
    scenarios = 0
    for _ in range(runs):
        sequential = await run_tests([path], TestOptions(workers=1))
        sequential_walls.append(sequential.duration_s * 1000)
        durations.extend(a.duration_ms for s in sequential.scenarios for a in s.attempts)
        scenarios = sum(1 for s in sequential.scenarios if s.attempts)
        started = time.perf_counter()
        await run_tests([path], TestOptions())
        suite_walls.append((time.perf_counter() - started) * 1000)
    return {
        "scenarios": scenarios,
        "per_scenario_ms": {
            "median": round(statistics.median(durations), 2) if durations else None,
            "mean": round(statistics.fmean(durations), 2) if durations else None,
            "p95": round(statistics.quantiles(durations, n=20)[-1], 2)
            if len(durations) > 1
            else None,
            "max": round(max(durations), 2) if durations else None,
        },
        "suite_ms_one_worker": round(statistics.median(sequential_walls), 1),
        "suite_ms_default_workers": round(statistics.median(suite_walls), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", default="procedures/")
    parser.add_argument("--process-runs", type=int, default=3)
    parser.add_argument("--warm-runs", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    process = measure_process(args.path, args.process_runs)
    warm = anyio.run(measure_warm, args.path, args.warm_runs)
    per_scenario = warm["per_scenario_ms"]["mean"]
    print(
        json.dumps(
            {
                "path": args.path,
                "process": process,
                "warm": warm,
                "targets": {
                    "warm_scenario_ms": SCENARIO_TARGET_MS,
                    "process_s": PROCESS_TARGET_S,
                    # p95, not max: on a shared machine the odd scenario waits for a CPU.
                    "met": process["median_s"] < PROCESS_TARGET_S
                    and per_scenario is not None
                    and (warm["per_scenario_ms"]["p95"] or per_scenario) < SCENARIO_TARGET_MS,
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
