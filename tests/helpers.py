"""Helpers the engine's tests share: run Lua source, look at the events it produced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runtime import MemoryHandler, Runtime, RuntimeConfig
from runtime.events import TERMINAL_TYPES, Event
from runtime.run import RunResult
from runtime.source import ProcedureSource

FILE = "proc.tac"
ROOT = Path(__file__).resolve().parent.parent


def source(text: str, *, name: str = FILE, root: Path | None = None) -> ProcedureSource:
    return ProcedureSource.from_text(text, name=name, project_root=root)


async def run(
    text: str | ProcedureSource,
    inputs: dict[str, Any] | None = None,
    *,
    config: RuntimeConfig | None = None,
    mock: bool = True,
    **options: Any,
) -> tuple[RunResult, list[Event]]:
    """Run ``text`` with a MemoryHandler; return the result and every event, checked for shape."""
    memory = MemoryHandler()
    handlers = [memory, *options.pop("handlers", [])]
    procedure = text if isinstance(text, ProcedureSource) else source(text)
    async with Runtime(config or RuntimeConfig()) as runtime:
        result = await runtime.run(procedure, inputs, handlers=handlers, mock=mock, **options)
    check_sequence(memory.events)
    return result, memory.events


def check_sequence(events: Sequence[Event]) -> None:
    """One run's events: seq 1..n, run_started first, one terminal event, last."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].type == "run_started"
    terminal = [e for e in events if e.type in TERMINAL_TYPES]
    assert len(terminal) == 1
    assert events[-1] is terminal[0]
    assert len({e.run_id for e in events}) == 1


def of_type(events: Sequence[Event], kind: str) -> list[Any]:
    return [e for e in events if e.type == kind]


def types(events: Sequence[Event]) -> list[str]:
    return [e.type for e in events]


def fresh_process_report(code: str, *args: str, unset: Sequence[str] = ()) -> dict[str, Any]:
    """Run Python ``code`` in a new interpreter, where nothing is imported or set up yet (in
    this one, earlier tests have done it all), from the project's root, without the
    environment variables ``unset``; return the JSON object its last line prints."""
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report
