"""A run's end reaches its watchers once the store has all of the run: a client that has seen
``run_completed`` (or a failure, or a cancel) finds the run, its events and its stats in the
history at once, whether the run recorded itself in an executor or in the server's process,
and whether the run ended or the server stopped it."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import anyio
import pytest

from runtime.config import RuntimeConfig
from tests.ide_backend.conftest import Ide, IdeFactory
from tests.ide_backend.sse_client import Feed, follow
from tests.ide_backend.test_executors import STUCK_IN_C

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

RUNS = 12

# Says it is pausing, then ends: while the test holds the history's write lock.
PAUSE_THEN_END = """
Procedure { function(input)
  Log.info("pausing")
  Sleep(0.3)
  return { done = true }
end }
"""


async def ended_and_stored(ide: Ide, run_id: str, status: str, feed: Feed | None = None) -> None:
    """Follow the run to its end (on from ``feed``), then look in the store without waiting
    for it."""
    after = None if feed is None else feed.last_id
    feed = await follow(ide.client, run_id, feed=feed, after=after)
    assert feed.types[-1] == f"run_{status}", feed.types
    store = ide.services.store
    assert await store.last_seq(run_id) == feed.last_id
    record = await store.get_run(run_id)
    assert record is not None and record.status == status
    events = await store.read_events(run_id)
    assert [e.seq for e in events] == list(range(1, feed.last_id + 1))


@pytest.mark.parametrize("executors", [True, False], ids=["executors", "in_process"])
async def test_a_run_seen_ending_is_in_the_history(make_ide: IdeFactory, executors: bool) -> None:
    async with make_ide(executors=executors) as ide:
        ids = [
            await ide.start("hello.tac", inputs={"name": str(n)}, mock=True) for n in range(RUNS)
        ]
        async with anyio.create_task_group() as group:
            for run_id in ids:
                group.start_soon(ended_and_stored, ide, run_id, "completed")
        stats = await ide.client.get("/api/stats", params={"by": "procedure", "mock": "1"})
        assert [(r["key"], r["count"]) for r in stats.json()["rows"]] == [("hello.tac", RUNS)]


@pytest.mark.parametrize("executors", [True, False], ids=["executors", "in_process"])
async def test_a_run_ending_while_the_history_is_busy_ends_once_it_is_written(
    make_ide: IdeFactory, workspace: Path, executors: bool
) -> None:
    (workspace / "pause.tac").write_text(PAUSE_THEN_END)
    async with make_ide(executors=executors) as ide:
        run_id = await ide.start("pause.tac")
        feed = await follow(ide.client, run_id, stop_after=2)
        assert feed.types == ["run_started", "log"]
        # Another process writing to the history: the run's last writes wait for it.
        other = sqlite3.connect(
            ide.services.store.path, isolation_level=None, check_same_thread=False
        )
        other.execute("BEGIN IMMEDIATE")
        release = threading.Timer(1.5, other.rollback)
        release.start()
        try:
            await ended_and_stored(ide, run_id, "completed", feed)
        finally:
            release.join()
            other.close()


async def test_a_run_the_server_stopped_is_in_the_history_when_seen_ending(
    make_ide: IdeFactory, workspace: Path
) -> None:
    (workspace / "stuck.tac").write_text(STUCK_IN_C)
    async with make_ide(runtime=RuntimeConfig(timeout_s=0.5)) as ide:
        # Killed for its timeout: the server, not the run, says how it ended.
        await ended_and_stored(ide, await ide.start("stuck.tac"), "failed")
        cancelled = await ide.start("stuck.tac")
        with anyio.fail_after(30):
            while (await ide.client.get(f"/api/runs/{cancelled}")).json()["status"] != "running":
                await anyio.sleep(0.05)
        async with anyio.create_task_group() as group:
            group.start_soon(ended_and_stored, ide, cancelled, "cancelled")
            await anyio.sleep(0.2)
            assert (await ide.client.post(f"/api/runs/{cancelled}/cancel")).status_code == 200
