"""Time to first token, two ways.

1. Cold: from starting `tide run` (a new process) to the first streamed character of the
   agent's answer appearing on its stdout, with a scripted model: run in its own process, and
   served by a warm worker (`tide worker start`). Against, in the same rounds, the floor of the
   first: a process that only imports DSPy and LiteLLM.
2. Honest: the time to first token Tide reports in its CostEvent (request handed to the
   provider's client → first content chunk in the agent), against the scripted server's own
   measurement (request received → first content byte sent) for the same request.

Prints JSON. Usage: python bench/ttft.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent.parent
TIDE = Path(sys.executable).parent / "tide"
PROCEDURE = ROOT / "procedures" / "hello.tac"


def cold_first_token(env: dict[str, str]) -> float:
    """Seconds from process start to the first character of streamed text on stdout."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(TIDE), "run", str(PROCEDURE), "--model", "scripted/default"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert process.stdout is not None
    seen_header = False
    first: float | None = None
    for line in iter(process.stdout.readline, b""):
        text = line.decode("utf-8", "replace")
        if seen_header and text.strip() and first is None:
            first = time.perf_counter() - started
        if "(turn 1" in text:
            seen_header = True
    process.wait()
    if first is None:
        raise RuntimeError("no streamed text seen")
    return first


async def reported_vs_server(runs: int) -> list[dict[str, float]]:
    """Per call, in one process; the first is the process's first model call."""
    from runtime import MemoryHandler, Runtime

    results = []
    async with Runtime() as runtime:
        for _ in range(runs):
            events = MemoryHandler()
            await runtime.run(PROCEDURE, handlers=[events], model="scripted/default")
            server = await runtime.scripted_server()
            record = server.streams[-1]
            assert record.first_content_at is not None
            server_ms = (record.first_content_at - record.received_at) * 1000
            cost = events.of_type("cost")[0]
            reported = cost.time_to_first_token_ms  # type: ignore[union-attr]
            results.append(
                {
                    "reported_ms": reported,
                    "server_ms": server_ms,
                    "difference_ms": reported - server_ms,
                }
            )
    return results


def import_floor(env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import dspy, litellm"], env=env, check=True)
    return time.perf_counter() - started


def cold_rounds(runs: int) -> dict[str, list[float]]:
    base = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    own = {**base, "TIDE_WORKER": "off"}
    with tempfile.TemporaryDirectory() as sockets:
        warm = {**base, "TIDE_WORKER": "on", "TIDE_WORKER_DIR": sockets}
        subprocess.run([str(TIDE), "worker", "start"], env=warm, check=True, capture_output=True)
        try:
            rounds: dict[str, list[float]] = {"own_process": [], "worker": [], "import_floor": []}
            for _ in range(runs):
                rounds["import_floor"].append(import_floor(base))
                rounds["own_process"].append(cold_first_token(own))
                rounds["worker"].append(cold_first_token(warm))
        finally:
            subprocess.run([str(TIDE), "worker", "stop"], env=warm, capture_output=True)
    return rounds


def summary(values: list[float]) -> dict[str, object]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "runs": [round(v, 3) for v in values],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    cold = cold_rounds(args.runs)
    own_over_floor = [o / f for o, f in zip(cold["own_process"], cold["import_floor"], strict=True)]
    first, *pairs = anyio.run(reported_vs_server, args.runs * 2 + 1)
    differences = [p["difference_ms"] for p in pairs]
    print(
        json.dumps(
            {
                "cold_tide_run_to_first_token_s": {
                    "own_process": summary(cold["own_process"]),
                    "warm_worker": summary(cold["worker"]),
                    "import_dspy_litellm_only": summary(cold["import_floor"]),
                    "own_process_over_import_floor": round(statistics.median(own_over_floor), 2),
                    "target": 2.0,
                },
                "reported_ttft_vs_server": {
                    "median_reported_ms": round(
                        statistics.median(p["reported_ms"] for p in pairs), 2
                    ),
                    "median_server_ms": round(statistics.median(p["server_ms"] for p in pairs), 2),
                    "median_difference_ms": round(statistics.median(differences), 2),
                    "max_difference_ms": round(max(differences), 2),
                    "first_call_in_process_difference_ms": round(first["difference_ms"], 2),
                    "target_ms": 5.0,
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
