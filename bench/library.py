"""What reading a run from Python or over the AI SDK's protocol costs.

1. ``Runtime.stream``: the same answer (a ``FunctionModel`` streaming N words, no network) run
   with a ``MemoryHandler`` and read through ``async for event in runtime.stream(...)``; and
   read by a reader that sleeps 1 ms per event, to show that it does not slow the run (the
   run's own duration, from its totals, is what is compared).
2. The UI message stream: the run's events written as the IDE's server-sent events
   (``sse.encode_all``) and as UI message chunks (``UIMessageEncoder``), one event at a time as
   a live watcher that keeps up writes them: bytes and CPU time per chunk event.

Prints JSON. Usage: python bench/library.py [--words N] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import anyio

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from ide_backend.sse import encode_all
from ide_backend.ui_messages import UIMessageEncoder
from runtime import MemoryHandler, Runtime
from runtime.events import Event
from runtime.models import FunctionModel
from runtime.source import ProcedureSource

PROCEDURE = ProcedureSource.from_text(
    """
writer = Agent { model = "openai/bench", system_prompt = "Write." }
Procedure { function(input) return { text = writer("go").output } end }
""",
    "bench.tac",
)


def answer_of(words: int) -> str:
    return " ".join(f"word{i}" for i in range(words))


async def one_run(runtime: Runtime, words: int, how: str) -> dict[str, float]:
    models = {"openai/bench": FunctionModel(lambda request: answer_of(words))}
    started = time.perf_counter()
    cpu = time.process_time()
    if how == "handler":
        events = MemoryHandler()
        result = await runtime.run(PROCEDURE, handlers=[events], models=models)
    else:
        stream = runtime.stream(PROCEDURE, models=models)
        async for _ in stream:
            if how == "slow reader":
                await anyio.sleep(0.001)
        result = await stream.result()
    assert result.ok, result.error
    return {
        "wall_ms": (time.perf_counter() - started) * 1000,
        "cpu_ms": (time.process_time() - cpu) * 1000,
        "run_ms": result.totals.duration_ms,
    }


async def python_readers(words: int, runs: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with Runtime() as runtime:
        await one_run(runtime, words, "handler")  # warm up
        for how in ("handler", "stream", "slow reader"):
            rounds = [await one_run(runtime, words, how) for _ in range(runs)]
            out[how] = {
                key: round(statistics.median(r[key] for r in rounds), 2) for key in rounds[0]
            }
    handler, stream = out["handler"], out["stream"]
    out["stream_over_handler_wall"] = round(stream["wall_ms"] / handler["wall_ms"], 3)
    out["slow_reader_run_over_handler_run"] = round(
        out["slow reader"]["run_ms"] / handler["run_ms"], 3
    )
    return out


async def run_events(words: int) -> list[Event]:
    models = {"openai/bench": FunctionModel(lambda request: answer_of(words))}
    events = MemoryHandler()
    async with Runtime() as runtime:
        await runtime.run(PROCEDURE, handlers=[events], models=models)
    return events.events


def encodings(events: list[Event]) -> dict[str, Any]:
    run_id = events[0].run_id
    encoder = UIMessageEncoder()
    writers: dict[str, Callable[[Event], bytes]] = {
        "ide_sse": lambda event: encode_all([event], run_id),
        "ui_message_stream": lambda event: encoder.encode([event]),
    }
    out: dict[str, Any] = {"events": len(events)}
    for name, write in writers.items():
        cpu = time.process_time()
        written = sum(len(write(event)) for event in events)
        seconds = time.process_time() - cpu
        out[name] = {
            "bytes": written,
            "bytes_per_event": round(written / len(events), 1),
            "cpu_us_per_event": round(seconds / len(events) * 1e6, 2),
        }
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--words", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    report = {
        "words": args.words,
        "python_readers": await python_readers(args.words, args.runs),
        "wire": encodings(await run_events(args.words)),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    anyio.run(main)
