"""Executors that take several runs: past a number of runs of one procedure going at once, its
further runs share executors, other procedures' runs never do, and a run stopped by force takes
only its own procedure's runs with it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from runtime import MemoryHandler, Runtime, RuntimeConfig
from runtime.executor import ExecutorPool, ExecutorRun
from tests.executor.test_pool import STUCK_IN_C, make

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    async with Runtime(RuntimeConfig(timeout_s=20.0, inspect_timeout_s=5)) as started:
        yield started


def executors(pool: ExecutorPool) -> set[int]:
    """The executor processes of the pool's (plain) fork server."""
    pid = pool.fork_server_pids()[0]
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


async def start_all(runs: list[ExecutorRun], group: Any) -> None:
    for run in runs:
        await run.prepare()
        group.start_soon(run.execute)


async def wait_for_start(*handlers: MemoryHandler) -> None:
    with anyio.fail_after(20):
        while not all(any(e.type == "run_started" for e in h.events) for h in handlers):
            await anyio.sleep(0.02)


def sharing_pool(runs_per_executor: int) -> ExecutorPool:
    return ExecutorPool(runs_per_executor=runs_per_executor, shared_from=0)


async def test_runs_of_one_procedure_share_an_executor(runtime: Runtime) -> None:
    async with sharing_pool(3) as pool, anyio.create_task_group() as group:
        made = [
            make(pool, runtime, "Sleep(1)\n  return { x = 1 }", run_id=f"s{i}") for i in range(4)
        ]
        other = make(pool, runtime, "Sleep(1)\n  return { y = 2 }", run_id="o1", name="other.tac")
        await start_all([run for run, _ in [*made, other]], group)
        await wait_for_start(*(events for _, events in [*made, other]))
        # Three of the first procedure's runs in one process, its fourth in a second, and the
        # other procedure's run in a third.
        assert len(executors(pool)) == 3
    assert [events.events[-1].type for _, events in [*made, other]] == ["run_completed"] * 5


@pytest.mark.parametrize(
    ("runs_per_executor", "shared_from", "processes"),
    [(1, 0, 5), (4, 5, 5), (4, 2, 3)],
)
async def test_runs_have_a_process_each_until_many_are_going(
    runtime: Runtime, runs_per_executor: int, shared_from: int, processes: int
) -> None:
    pool = ExecutorPool(runs_per_executor=runs_per_executor, shared_from=shared_from)
    async with pool, anyio.create_task_group() as group:
        made = [
            make(pool, runtime, "Sleep(3)\n  return { x = 1 }", run_id=f"s{i}") for i in range(5)
        ]
        for run, events in made:
            await start_all([run], group)
            await wait_for_start(events)
        assert len(executors(pool)) == processes
    assert [events.events[-1].type for _, events in made] == ["run_completed"] * 5


async def test_an_executor_takes_new_runs_after_its_first_ends(runtime: Runtime) -> None:
    async with sharing_pool(2) as pool:
        first, events = make(pool, runtime, "return { x = 1 }", run_id="f1")
        await first.prepare()
        await first.execute()
        before = executors(pool)
        second, second_events = make(pool, runtime, "return { x = 1 }", run_id="f2")
        await second.prepare()
        await second.execute()
        assert executors(pool) == before and len(before) == 1
    assert events.events[-1].type == second_events.events[-1].type == "run_completed"


async def test_a_run_stopped_by_force_stops_only_its_procedures_runs(runtime: Runtime) -> None:
    async with sharing_pool(4) as pool, anyio.create_task_group() as group:
        stuck, stuck_events = make(pool, runtime, STUCK_IN_C * 20, run_id="k1")
        sibling, sibling_events = make(pool, runtime, STUCK_IN_C * 20, run_id="k2")
        other, other_events = make(
            pool, runtime, "Sleep(2)\n  return { y = 2 }", run_id="o1", name="b.tac"
        )
        await start_all([stuck, sibling, other], group)
        await wait_for_start(stuck_events, sibling_events, other_events)
        assert len(executors(pool)) == 2
        stuck.cancel()
    assert stuck_events.events[-1].type == "run_cancelled"
    # The other run of the stuck procedure was in the killed process: it says so.
    last = sibling_events.events[-1]
    assert last.type == "run_failed" and last.error.kind == "executor"
    assert "another run of the procedure" in last.error.message
    # Another procedure's run goes on to its end.
    assert other_events.events[-1].type == "run_completed"
    assert other_events.events[-1].output == {"y": 2}


async def test_a_run_goes_on_in_the_executor_that_inspected_it(runtime: Runtime) -> None:
    async with ExecutorPool() as pool, anyio.create_task_group() as group:
        run, events = make(pool, runtime, "Sleep(2)\n  return { x = 1 }", run_id="i1")
        await run.prepare()
        inspected_in = executors(pool)
        group.start_soon(run.execute)
        await wait_for_start(events)
        assert executors(pool) == inspected_in and len(inspected_in) == 1
    assert events.events[-1].type == "run_completed"
