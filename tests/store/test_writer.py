"""The store's writer thread: a batch that fails for a passing reason is written later, with
what came after it, never dropped; one that cannot be written does not stop the next."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from runtime.store import sqlite as sqlite_store
from runtime.store.sqlite import SQLiteStore
from runtime.store.writer import Batch, BatchWriter
from tests.store.events import RunBuilder

pytestmark = pytest.mark.anyio


class Busy(Exception):
    pass


class FailingWrites:
    """Fails the first ``failures`` writes with ``error``, and every write until ``accept`` is
    set; then keeps what it is given."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.accept = threading.Event()
        self.written: list[Batch] = []
        self.attempts = 0

    def __call__(self, batch: Batch) -> None:
        self.attempts += 1
        if self.attempts <= self.failures or not self.accept.is_set():
            raise self.error
        self.written.append(batch)


def test_a_batch_refused_for_a_passing_reason_is_written_later_with_the_next() -> None:
    writes = FailingWrites(2, Busy("database is locked"))
    writer = BatchWriter(writes, max_delay=0.01, retry=lambda exc: isinstance(exc, Busy))
    try:
        writer.put(event=("r", 1), run=("r", ("row", 1)), journal=("j", 1))
        assert not writer.journal_written()
        writer.put(event=("r", 2), run=("r", ("row", 2)))
        writes.accept.set()
        assert writer.flush(5)
    finally:
        writer.close()
    events = [e for batch in writes.written for e in batch.events]
    assert events == [("r", 1), ("r", 2)]
    # A run's row as last written is its latest.
    assert {k: v for batch in writes.written for k, v in batch.runs.items()} == {"r": ("row", 2)}
    assert writes.attempts >= 3 and writer.journal_written()


def test_a_batch_that_cannot_be_written_is_given_up_and_the_next_is_written() -> None:
    writes = FailingWrites(1, ValueError("not a row"))
    writes.accept.set()
    writer = BatchWriter(writes, max_delay=0.01, retry=lambda exc: isinstance(exc, Busy))
    try:
        writer.put(event=("r", 1))
        assert writer.flush(5)
        writer.put(event=("r", 2))
        assert writer.flush(5)
    finally:
        writer.close()
    assert [e for batch in writes.written for e in batch.events] == [("r", 2)]


async def test_events_wait_for_a_database_another_process_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "_BUSY_TIMEOUT_MS", 50)
    run = RunBuilder("held").started()
    run.turn("writer", "Waiting is not losing.", pieces=4).completed({"ok": True})
    async with SQLiteStore.for_workspace(tmp_path) as store:
        holder = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")  # as another process writing for a while
        released = threading.Timer(0.5, holder.execute, ["COMMIT"])
        released.start()
        began = time.monotonic()
        for event in run.events:
            store.record_event(event)
        await store.flush()
        waited = time.monotonic() - began
        released.join()
        holder.close()
        events = await store.read_events("held")
    assert waited >= 0.4
    assert [e.seq for e in events] == [e.seq for e in run.events]
    with closing(sqlite3.connect(store.path)) as conn:
        (status,) = conn.execute("SELECT status FROM runs WHERE id = 'held'").fetchone()
    assert status == "completed"
