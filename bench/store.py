"""Benchmark of the execution store: how fast it writes, and what it costs a run.

    .venv/bin/python bench/store.py [--events 200000] [--runs 15] [--out result.json]

Prints JSON:

- ``write``: events per second the store writes durably (handed to ``StoreHandler.log`` to
  committed), and the cost of ``log`` for the caller (the run's event loop), in microseconds;
- ``slowdown``: the median duration of the same run with and without a ``StoreHandler``, for
  a mock run (thousands of chunks as fast as the loop goes: the worst case) and a run of the
  scripted model over HTTP. Target: at most 5 % slower. For scale, the same with a second
  handler that does nothing: the event bus's cost of any handler.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio

from runtime.api import Runtime
from runtime.events import AgentStreamChunkEvent, CostEvent, Event, RunStartedEvent, TextBuffer
from runtime.model_server import Reply, Script
from runtime.store import SQLiteStore, StoreHandler

WORDS = 4000
MOCK = f"""
writer = Agent {{ model = "scripted/default", system_prompt = "Write." }}
Mocks {{ writer = {{ message = string.rep("word ", {WORDS}) }} }}
Procedure {{ function(input) return {{ text = writer("Write").message }} end }}
"""
SCRIPTED = """
writer = Agent { model = "scripted/default", system_prompt = "Write." }
Procedure { function(input) return { text = writer("Write").message } end }
"""


def synthetic_events(count: int) -> list[Event]:
    """A run's worth of events: mostly chunks, with a cost event every 200."""
    events: list[Event] = [RunStartedEvent(run_id="bench", seq=1, procedure="bench.tac")]
    buffer = TextBuffer()
    for seq in range(2, count + 1):
        if seq % 200 == 0:
            events.append(
                CostEvent(run_id="bench", seq=seq, agent="a", turn=1, model="m", provider="p")
            )
            continue
        offset = buffer.append(" word")
        events.append(
            AgentStreamChunkEvent.from_buffer(
                buffer, " word", offset, run_id="bench", seq=seq, agent="a", turn=1
            )
        )
    return events


def bench_write(count: int) -> dict[str, Any]:
    events = synthetic_events(count)
    with tempfile.TemporaryDirectory() as directory:
        store = SQLiteStore.for_workspace(directory)
        handler = StoreHandler(store)
        started = time.perf_counter()
        for event in events:
            handler.log(event)
        handed = time.perf_counter()
        store.flush_sync()
        done = time.perf_counter()
        size = sum(f.stat().st_size for f in (Path(directory) / ".tide").iterdir())
        store.close()
    return {
        "events": count,
        "events_per_s": round(count / (done - started)),
        "log_call_us": round((handed - started) / count * 1e6, 2),
        "bytes_per_chunk_event": round(size / count, 1),
    }


class Discard:
    def log(self, event: Event) -> None:
        return None


async def timed_runs(source: Path, runs: int, store: SQLiteStore, mock: bool) -> dict[str, Any]:
    durations: dict[str, list[float]] = {"without": [], "with": [], "noop": []}
    async with Runtime() as runtime:
        if not mock:
            server = await runtime.scripted_server()
            server.set_script(Script(replies=[Reply(tokens=WORDS, repeat=True)]))
        for index in range(runs + 1):
            labels = ["without", "with", "noop"]
            for label in labels if index % 2 else reversed(labels):
                handlers: list[Any] = [Discard()]
                if label == "with":
                    handlers.append(StoreHandler(store, mock=mock))
                elif label == "noop":
                    handlers.append(Discard())
                started = time.perf_counter()
                result = await runtime.run(source, handlers=handlers, mock=mock)
                elapsed = (time.perf_counter() - started) * 1000
                assert result.ok, result.error
                if index > 0:  # the first round warms up imports and caches
                    durations[label].append(elapsed)
    without = statistics.median(durations["without"])
    with_store = statistics.median(durations["with"])
    noop = statistics.median(durations["noop"])
    return {
        "runs_each": runs,
        "chunks_per_run": WORDS,
        "median_ms_without_store": round(without, 1),
        "median_ms_with_store": round(with_store, 1),
        "slowdown_pct": round((with_store / without - 1) * 100, 2),
        # What any second handler costs (the bus feeds each from its own task), for scale.
        "median_ms_with_noop_handler": round(noop, 1),
        "noop_handler_slowdown_pct": round((noop / without - 1) * 100, 2),
    }


async def bench_slowdown(runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "mock.tac").write_text(MOCK)
        (root / "scripted.tac").write_text(SCRIPTED)
        store = SQLiteStore.for_workspace(root)
        try:
            return {
                "mock_run": await timed_runs(root / "mock.tac", runs, store, True),
                "scripted_run": await timed_runs(root / "scripted.tac", runs, store, False),
            }
        finally:
            await store.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = {
        "benchmark": "store",
        "cpus": os.cpu_count(),
        "write": bench_write(args.events),
        "slowdown": anyio.run(bench_slowdown, args.runs),
        "target_slowdown_pct": 5.0,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
