"""Benchmark of durable runs: what the journal costs a run, and how fast a run resumes.

    .venv/bin/python bench/durable.py [--runs 15] [--calls 100] [--out result.json]

Prints JSON:

- ``overhead``: the median duration of the same streamed run (the scripted model over HTTP,
  several agent calls and tool calls) recorded in a store with its journal and without it,
  alternated in one process. Goal: the journal adds at most 2 %.
- ``resume``: the time from ``Runtime.resume`` to the end of a run whose journal holds
  ``--calls`` agent calls (the procedure executes again and each call is answered from the
  journal; its last call runs live). Goal: at most 0.5 s for 100 calls.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio

from runtime.api import Runtime
from runtime.models.function import FunctionModel
from runtime.store import INTERRUPTED, SQLiteStore, StoreHandler

STREAMED = """
writer = Agent { model = "scripted/default", system_prompt = "You write." }
count = Tool {
  description = "Count words", input = { text = field.string{ required = true } },
  function(args) return { words = #args.text } end
}
Procedure {
  function(input)
    local parts = {}
    for i = 1, 4 do
      local r = writer("Write part " .. i)
      parts[i] = count({ text = r.output }).words
    end
    return { parts = parts }
  end
}
"""

MANY_CALLS = """
writer = Agent { model = "m/writer", system_prompt = "You write." }
Procedure {
  input = { calls = field.integer{ default = 100 } },
  function(input)
    local total = 0
    for i = 1, input.calls do
      total = total + #writer("Call " .. i).output
    end
    return { total = total }
  end
}
"""


class Printer:
    """A handler like the terminal's: takes every event, as a streamed run always has one."""

    def log(self, event: Any) -> None:
        pass


async def overhead(runs: int, workdir: Path) -> dict[str, Any]:
    path = workdir / "streamed.tac"
    path.write_text(STREAMED)
    timings: dict[str, list[float]] = {"journal": [], "no_journal": []}
    async with SQLiteStore.for_workspace(workdir) as store, Runtime() as runtime:
        for index in range(runs * 2 + 2):
            journaled = index % 2 == 0
            run = runtime.create_run(path, handlers=[Printer(), StoreHandler(store)])
            if not journaled:
                run.journal = None
            started = time.perf_counter()
            result = await run.execute()
            elapsed = time.perf_counter() - started
            assert result.ok, result.error
            if index >= 2:  # the first pair warms up the model server and the client
                timings["journal" if journaled else "no_journal"].append(elapsed)
    with_journal = statistics.median(timings["journal"])
    without = statistics.median(timings["no_journal"])
    return {
        "runs_each": runs,
        "median_s_with_journal": round(with_journal, 4),
        "median_s_without_journal": round(without, 4),
        "overhead_pct": round((with_journal / without - 1) * 100, 2),
        "goal_pct": 2.0,
    }


def interrupt(db: Path, run_id: str) -> None:
    """Leave the run as a process killed during its last call would: the last journal entry and
    the events after the one before it gone, the run failed (interrupted)."""
    with closing(sqlite3.connect(db)) as conn, conn:
        position, seq = conn.execute(
            "SELECT position, seq FROM journal WHERE run_id = ? ORDER BY position DESC LIMIT 1 "
            "OFFSET 1",
            (run_id,),
        ).fetchone()
        conn.execute("DELETE FROM journal WHERE run_id = ? AND position > ?", (run_id, position))
        conn.execute("DELETE FROM events WHERE run_id = ? AND seq > ?", (run_id, seq))
        conn.execute(
            "UPDATE runs SET status = 'failed', error = ? WHERE id = ?",
            (json.dumps({"kind": INTERRUPTED, "message": "killed"}), run_id),
        )


async def resume_time(calls: int, repeats: int, workdir: Path) -> dict[str, Any]:
    path = workdir / "many.tac"
    path.write_text(MANY_CALLS)
    model = FunctionModel(lambda request: "A short answer.")
    timings: list[float] = []
    live_calls: list[int] = []
    for _ in range(repeats):
        async with SQLiteStore.for_workspace(workdir) as store, Runtime(store=store) as runtime:
            first = await runtime.run(path, {"calls": calls}, models={"m/writer": model})
            assert first.ok, first.error
            await store.flush()
            interrupt(store.path, first.run_id)
            before = len(model.requests)
            started = time.perf_counter()
            resumed = await runtime.resume(first.run_id, models={"m/writer": model})
            timings.append(time.perf_counter() - started)
            assert resumed.ok and resumed.output == first.output, resumed.error
            live_calls.append(len(model.requests) - before)
    return {
        "journaled_calls": calls,
        "calls_made_live": max(live_calls),
        "median_s": round(statistics.median(timings), 4),
        "max_s": round(max(timings), 4),
        "goal_s": 0.5,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        return {
            "overhead": await overhead(args.runs, workdir),
            "resume": await resume_time(args.calls, 5, workdir),
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--out")
    options = parser.parse_args()
    report = anyio.run(main, options)
    text = json.dumps(report, indent=2)
    print(text)
    if options.out:
        Path(options.out).write_text(text + "\n")
