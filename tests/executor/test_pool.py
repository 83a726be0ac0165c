"""Runs in executor processes: events arrive as the run's, a run stuck in C is killed and ends
with its partial text, a cancel ends it, mistakes are reported before it starts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from runtime import MemoryHandler, Runtime, RuntimeConfig
from runtime.errors import TideError
from runtime.events import ErrorInfo, RunFailedEvent
from runtime.executor import ExecutorPool, ExecutorRun
from runtime.source import ProcedureSource
from runtime.store import SQLiteStore, StoreHandler
from tests.store.events import RunBuilder

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

# A call into Lua's C library that takes seconds: the hook cannot interrupt it.
STUCK_IN_C = "local s = string.rep(\"a\", 14000)\n  for i = 1, 1000 do s:find('.-b') end\n"


@pytest.fixture
async def pool() -> AsyncIterator[ExecutorPool]:
    async with ExecutorPool() as started:
        yield started


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    async with Runtime(RuntimeConfig(timeout_s=0.5, inspect_timeout_s=5)) as started:
        yield started


def make(
    pool: ExecutorPool,
    runtime: Runtime,
    body: str,
    declarations: str = "",
    run_id: str = "r1",
    name: str = "proc.tac",
    **options: Any,
) -> tuple[ExecutorRun, MemoryHandler]:
    text = f"{declarations}Procedure {{ function(input)\n  {body}\nend }}\n"
    events = MemoryHandler()
    run = ExecutorRun(
        pool,
        runtime,
        ProcedureSource.from_text(text, name),
        {},
        handlers=[events],
        mock=True,
        run_id=run_id,
        **options,
    )
    return run, events


async def test_a_run_streams_its_events(pool: ExecutorPool, runtime: Runtime) -> None:
    run, events = make(pool, runtime, 'Log.info("hi", { f = print })\n  return { x = 1 }')
    await run.prepare()
    await run.execute()
    assert [e.type for e in events.events] == ["run_started", "log", "run_completed"]
    assert events.events[1].fields == {"f": "<function>"}
    assert events.events[-1].output == {"x": 1}


@pytest.mark.parametrize("anyio_backend", [("asyncio", {"use_uvloop": True})], ids=["uvloop"])
async def test_a_host_on_uvloop_follows_its_executors(pool: ExecutorPool, runtime: Runtime) -> None:
    run, events = make(pool, runtime, 'Log.info("hi")\n  return { x = 1 }')
    await run.prepare()
    await run.execute()
    assert [e.type for e in events.events] == ["run_started", "log", "run_completed"]


async def test_a_run_stuck_in_c_is_killed_and_times_out(
    pool: ExecutorPool, runtime: Runtime
) -> None:
    run, events = make(pool, runtime, STUCK_IN_C)
    await run.prepare()
    await run.execute()
    last = events.events[-1]
    assert last.type == "run_failed"
    assert last.error.kind == "timeout"
    assert "process was stopped" in last.error.message
    # Named where its code was last seen: line 3, the loop whose calls into C outlast its time.
    assert (last.error.file, last.error.line) == ("proc.tac", 3)
    assert [e.seq for e in events.events] == list(range(1, len(events.events) + 1))


async def test_a_cancelled_run_stuck_in_c_ends_cancelled(pool: ExecutorPool) -> None:
    import anyio

    async with Runtime(RuntimeConfig(timeout_s=60.0, inspect_timeout_s=5)) as runtime:
        run, events = make(pool, runtime, STUCK_IN_C)
        await run.prepare()
        async with anyio.create_task_group() as group:
            group.start_soon(run.execute)
            await anyio.sleep(0.5)
            run.cancel()
    assert events.events[-1].type == "run_cancelled"


async def test_mistakes_are_reported_before_the_run(pool: ExecutorPool, runtime: Runtime) -> None:
    run, _ = make(pool, runtime, "return {")
    with pytest.raises(TideError) as caught:
        await run.prepare()
    assert caught.value.kind == "syntax" and caught.value.file == "proc.tac"


async def test_a_cancel_before_the_start_ends_at_once(pool: ExecutorPool, runtime: Runtime) -> None:
    run, events = make(pool, runtime, "return {}")
    await run.prepare()
    run.cancel()
    await run.execute()
    assert [e.type for e in events.events] == ["run_started", "run_cancelled"]


async def test_a_killed_run_keeps_the_text_its_chunks_brought(
    pool: ExecutorPool, runtime: Runtime
) -> None:
    declarations = (
        'writer = Agent { model = "scripted/default" }\n'
        'Mocks { writer = { message = "Once upon a time, a run was stopped." } }\n'
    )
    run, events = make(pool, runtime, f'writer("Go")\n  {STUCK_IN_C}', declarations)
    await run.prepare()
    await run.execute()
    chunks = [e for e in events.events if e.type == "agent_stream_chunk"]
    assert len(chunks) > 1
    assert chunks[-1].accumulated_text == "Once upon a time, a run was stopped."
    last = events.events[-1]
    assert last.type == "run_failed" and last.error.kind == "timeout"
    assert last.partial_text == "Once upon a time, a run was stopped."


async def test_what_a_dead_executor_did_not_store_its_host_stores_and_counts(
    runtime: Runtime, tmp_path: Path
) -> None:
    # The executor stored the run's first events and died with the rest relayed but unwritten.
    built = RunBuilder("r1").started().turn("writer", "half an answer", pieces=4)
    built.turn("writer", "more", turn=2, pieces=2)
    executor_store = SQLiteStore.for_workspace(tmp_path)
    for event in built.events[:4]:
        executor_store.record_event(event)
    await executor_store.aclose()
    async with SQLiteStore.for_workspace(tmp_path) as store:
        run = ExecutorRun(
            None,  # type: ignore[arg-type]  # no executor is started here
            runtime,
            ProcedureSource.from_text("Procedure { function() end }", "p.tac"),
            handlers=[StoreHandler(store)],
            run_id="r1",
        )
        for event in built.events:
            outcome = run._take_line(event.model_dump_json().encode())
            if not isinstance(outcome, bool):
                await outcome
        await run._end(RunFailedEvent, error=ErrorInfo(kind="executor", message="it died"))
        await store.flush()
        stored = await store.read_events("r1")
    assert [e.seq for e in stored] == list(range(1, len(built.events) + 2))  # no gap
    failed = stored[-1]
    assert isinstance(failed, RunFailedEvent) and failed.error.kind == "executor"
    assert failed.totals.agent_turns == 2 and failed.totals.total_tokens == 20
    assert failed.partial_text == "more"


class StartsWatcher:
    """Notes how many runs hold a turn to start each time a run starts."""

    def __init__(self, pool: ExecutorPool) -> None:
        self.pool = pool
        self.starting: list[float] = []

    def log(self, event: Any) -> None:
        if event.type == "run_started":
            self.starting.append(self.pool.starting.borrowed_tokens)


async def test_a_burst_of_runs_starts_a_few_executors_at_a_time(
    pool: ExecutorPool, runtime: Runtime
) -> None:
    import anyio

    pool.starting.total_tokens = 2
    watcher = StartsWatcher(pool)
    runs = []
    for index in range(6):
        # One of them is killed stuck in C: its turn is given back all the same.
        body = STUCK_IN_C if index == 2 else "return { x = 1 }"
        run, events = make(pool, runtime, body, run_id=f"r{index}")
        run.handlers.append(watcher)
        await run.prepare()
        runs.append((run, events))
    async with anyio.create_task_group() as group:
        for run, _ in runs:
            group.start_soon(run.execute)
    assert [events.events[-1].type for _, events in runs] == [
        "run_completed",
        "run_completed",
        "run_failed",
        "run_completed",
        "run_completed",
        "run_completed",
    ]
    assert len(watcher.starting) == 6 and max(watcher.starting) <= 2
    assert pool.starting.borrowed_tokens == 0


async def test_runs_ending_together_print_nothing(capfd: Any, runtime: Runtime) -> None:
    # The executors write to this process's stderr: a run's end must leave nothing there (a
    # read cancelled as the host closed made asyncio print a traceback now and then).
    import anyio

    async with ExecutorPool() as pool:
        limiter = anyio.CapacityLimiter(16)
        ends: list[str] = []

        async def one(index: int) -> None:
            async with limiter:
                run, events = make(pool, runtime, "return { x = 1 }", run_id=f"e{index}")
                await run.prepare()
                await run.execute()
                ends.append(events.events[-1].type)

        async with anyio.create_task_group() as group:
            for index in range(120):
                group.start_soon(one, index)
    assert ends == ["run_completed"] * 120
    assert capfd.readouterr().err == ""


async def test_a_cancel_ends_the_wait_for_a_turn_to_start(
    pool: ExecutorPool, runtime: Runtime
) -> None:
    import anyio

    holder = object()
    pool.starting.total_tokens = 1
    await pool.starting.acquire_on_behalf_of(holder)
    run, events = make(pool, runtime, "return { x = 1 }")
    await run.prepare()
    with anyio.fail_after(5):  # the turn is never given back
        async with anyio.create_task_group() as group:
            group.start_soon(run.execute)
            await anyio.sleep(0.05)
            run.cancel()
    assert [e.type for e in events.events] == ["run_started", "run_cancelled"]
    assert pool.starting.borrowed_tokens == 1
    pool.starting.release_on_behalf_of(holder)


async def test_a_top_level_stuck_in_c_is_killed_at_the_time_it_is_given(
    pool: ExecutorPool,
) -> None:
    # A run whose top level is stuck (as it was not when inspected) is stopped when its top
    # level's time is up, not after the run's whole timeout more.
    import time

    source = ProcedureSource.from_text(
        f"{STUCK_IN_C * 20}Procedure {{ function(input) return {{}} end }}\n", "top.tac"
    )
    async with Runtime(RuntimeConfig(timeout_s=60.0, inspect_timeout_s=2)) as runtime:
        events = MemoryHandler()
        run = ExecutorRun(pool, runtime, source, {}, handlers=[events], mock=True, run_id="t1")
        began = time.monotonic()
        await run.execute()
    last = events.events[-1]
    assert last.type == "run_failed" and last.error.kind == "timeout"
    # The 2 s it is given, the start's allowance (3 s) and the grace: far from the 60 s more.
    assert time.monotonic() - began < 10
