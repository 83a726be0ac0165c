"""SIGKILL at more than 20 points of a run with several agent calls, tool calls (from an agent and
from Lua) and a sub-procedure, with real `tide run` and `tide runs resume` processes: each time,
the next `tide runs resume` takes the run up, the last one completes it with exactly the output
of an uninterrupted run, and the model server saw every call of that run once, but the one in
flight at each kill.

The commands run in a warm worker's children (a cold process spends seconds importing the model
libraries); each kill is a SIGKILL of the child running the command, at a point read from the
store as the run writes it: after its Nth journal entry, or after N chunks of a streaming call.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.durable.procedures import SERVED_WORKFLOW
from tests.durable.processes import (
    TIDE,
    KillPoint,
    ModelServer,
    Progress,
    StoreProbe,
    Worker,
    check_calls,
    wait_until,
)

# The run's journal, in the order it is written: the run, planner, add, done, add (from Lua),
# three drafts, the summary (the sub-procedure's call), summarize, final. A point after entry N
# kills what follows it; with chunks, the call that follows once it has streamed that many.
KILL_POINTS = [
    KillPoint(1),  # the planner's call in flight
    KillPoint(2),  # the planner's tools
    KillPoint(4),  # Lua's add
    *(KillPoint(entries, chunks) for entries in (5, 6, 7, 8) for chunks in (1, 25)),
    KillPoint(9),  # the sub-procedure ending
    KillPoint(10, 1),
    KillPoint(10, 20),
]
CHAINS = 2
KILLED = 128 + signal.SIGKILL  # the exit status of a command whose process was killed


@dataclass
class Chain:
    """One run, killed at each point in turn and resumed after each kill."""

    workspace: Path
    worker: Worker
    server: ModelServer
    run_id: str = ""
    probe: StoreProbe = field(init=False)
    attempts: list[list[str]] = field(default_factory=list)
    hits: list[Progress] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.probe = StoreProbe(self.workspace)

    def start(self, *args: str) -> subprocess.Popen[str]:
        number = len(self.attempts)
        return subprocess.Popen(
            [str(TIDE), *args],
            cwd=self.workspace,
            env=self.worker.env,
            stdin=subprocess.DEVNULL,
            stdout=(self.workspace / f"out{number}.txt").open("w"),
            stderr=(self.workspace / f"err{number}.txt").open("w"),
            text=True,
        )

    def command(self) -> list[str]:
        if not self.run_id:
            return ["run", "workflow.tac", "--json"]
        return ["runs", "resume", self.run_id, "--json"]

    def attempt(self, point: KillPoint | None) -> int:
        """One command, killed at ``point`` unless it ends first; its exit status."""
        probe = self.probe
        start = probe.progress(self.run_id) if self.run_id else Progress(0, 0)
        calls_before = len(self.server.calls())
        process = self.start(*self.command())
        if point is not None:
            wait_until(lambda: bool(probe.run_ids()) or process.poll() is not None, "the run")
            if not self.run_id and process.poll() is None:
                [self.run_id] = probe.run_ids()
            wait_until(
                lambda: process.poll() is not None or point.reached(probe, self.run_id, start),
                f"{point} in run {self.run_id}",
            )
            for child in self.worker.children():
                os.kill(child, signal.SIGKILL)
        code = process.wait(120)
        if code == KILLED and probe.status(self.run_id) != "completed":
            self.hits.append(probe.progress(self.run_id))
        self.attempts.append(self.server.calls()[calls_before:])
        return code

    def output(self) -> dict[str, Any]:
        number = len(self.attempts) - 1
        result: dict[str, Any] = json.loads((self.workspace / f"out{number}.txt").read_text())
        return result


@pytest.mark.timeout(300)
def test_sigkill_at_twenty_points_then_tide_runs_resume(
    tmp_path: Path, served: ModelServer, worker: Worker
) -> None:
    procedure = SERVED_WORKFLOW.replace("URL", served.api_base)

    def chain(name: str) -> Chain:
        workspace = tmp_path / name
        workspace.mkdir()
        (workspace / "workflow.tac").write_text(procedure)
        return Chain(workspace, worker, served)

    reference = chain("reference")
    assert reference.attempt(None) == 0, (reference.workspace / "err0.txt").read_text()
    expected = reference.output()
    assert expected["status"] == "completed" and expected["output"]["adds"] == 2
    [calls] = reference.attempts
    assert len(calls) == len(set(calls)) == 6

    hits = 0
    positions: set[int] = set()
    for number in range(CHAINS):
        killed = chain(f"chain{number}")
        for point in KILL_POINTS:
            hits_before = len(killed.hits)
            killed.attempt(point)
            if len(killed.hits) == hits_before:
                break  # the run ended before the point
        probe = killed.probe
        if probe.status(killed.run_id) != "completed":
            code = killed.attempt(None)
            errors = (killed.workspace / f"err{len(killed.attempts) - 1}.txt").read_text()
            assert code == 0, errors
            result = killed.output()
            assert result["run_id"] == killed.run_id and result["status"] == "completed"
            assert result["output"] == expected["output"]
        assert probe.status(killed.run_id) == "completed"
        assert probe.output(killed.run_id) == expected["output"]
        assert probe.events_twice(killed.run_id) == []
        repeated = check_calls(calls, killed.attempts)
        assert repeated <= len(killed.hits)
        # Each kill stopped the run further on than the one before.
        assert killed.hits == sorted(set(killed.hits))
        hits += len(killed.hits)
        positions.update(hit.entries for hit in killed.hits)
        probe.close()
    print(f"{hits} kills after journal entries {sorted(positions)}")
    assert hits >= 20
