"""Time to first token, two ways.

1. Cold: from starting `tide run` (a new process) to the first streamed character of the
   agent's answer appearing on its stdout, with a scripted model.
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
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent.parent
TIDE = Path(sys.executable).parent / "tide"
PROCEDURE = ROOT / "procedures" / "hello.tac"


def cold_first_token() -> float:
    """Seconds from process start to the first character of streamed text on stdout."""
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
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
    from runtime import MemoryHandler, Runtime

    results = []
    async with Runtime() as runtime:
        for index in range(runs + 1):
            events = MemoryHandler()
            await runtime.run(PROCEDURE, handlers=[events], model="scripted/default")
            server = await runtime.scripted_server()
            record = server.streams[-1]
            assert record.first_content_at is not None
            server_ms = (record.first_content_at - record.received_at) * 1000
            cost = events.of_type("cost")[0]
            reported = cost.time_to_first_token_ms  # type: ignore[union-attr]
            if index == 0:
                continue  # the first call in a process also sets LiteLLM up
            results.append(
                {
                    "reported_ms": reported,
                    "server_ms": server_ms,
                    "difference_ms": reported - server_ms,
                }
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    cold = [cold_first_token() for _ in range(args.runs)]
    pairs = anyio.run(reported_vs_server, args.runs * 2)
    differences = [p["difference_ms"] for p in pairs]
    print(
        json.dumps(
            {
                "cold_tide_run_to_first_token_s": {
                    "median": round(statistics.median(cold), 3),
                    "min": round(min(cold), 3),
                    "runs": [round(c, 3) for c in cold],
                    "target": 2.0,
                },
                "reported_ttft_vs_server": {
                    "median_reported_ms": round(
                        statistics.median(p["reported_ms"] for p in pairs), 2
                    ),
                    "median_server_ms": round(statistics.median(p["server_ms"] for p in pairs), 2),
                    "median_difference_ms": round(statistics.median(differences), 2),
                    "max_difference_ms": round(max(differences), 2),
                    "target_ms": 5.0,
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
