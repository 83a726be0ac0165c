"""The store's writer thread: takes rows from the event loop without blocking, and writes them
in batches.

A batch is written when ``max_events`` events are waiting, when the oldest waiting event is
``max_delay`` seconds old, at a terminal event (so a finished run is complete on disk at
once), and on ``flush``. That bounds what a crash can lose: the events of the last unwritten
batch, at most ``max_delay`` seconds' or ``max_events`` events' worth. A batch that fails for a
passing reason (``retry``: another process holding the database) is tried again with what came
after it, for up to ``RETRY_FOR_S``; one that cannot be written is given up, and the next is
written.

The thread does as little Python as it can. Two threads running Python take turns on the GIL
in slices of several milliseconds, which would stall the event loop, and every stream on it,
each time a batch is written. So a batch is a few ``executemany`` calls, which step SQLite with
the GIL released between rows; the caller prepares every row but a chunk's, whose JSON is made
here, one row at a time, to keep the run's own cost per chunk at a tuple.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("tide.store")

DEFAULT_MAX_DELAY_S = 0.05
DEFAULT_MAX_EVENTS = 256
# How long a batch that failed for a passing reason (another process holding the database) is
# tried again, with what came after it, before it is given up.
RETRY_FOR_S = 60.0

Row = tuple[Any, ...]


@dataclass
class Batch:
    """What one transaction writes."""

    # (run_id, seq, ts, agent, turn, offset, text): a chunk, the bulk of any run, queued as
    # cheaply as the caller can; the writer's thread makes its row.
    chunks: list[Row] = field(default_factory=list)
    # (run_id, seq, type, ts, data) for every other event (see ``codec.encode_event``).
    events: list[Row] = field(default_factory=list)
    turns: list[Row] = field(default_factory=list)
    alerts: list[Row] = field(default_factory=list)
    # The latest row of each run that changed, by id.
    runs: dict[str, Row] = field(default_factory=dict)
    # Journal entries: written in the same transaction as the events put before them.
    journal: list[Row] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.chunks) + len(self.events)

    def __bool__(self) -> bool:
        return bool(self.chunks or self.events or self.runs or self.journal)

    def then(self, later: Batch) -> Batch:
        """This batch followed by ``later``, as one (a run's later row replaces its earlier)."""
        return Batch(
            chunks=self.chunks + later.chunks,
            events=self.events + later.events,
            turns=self.turns + later.turns,
            alerts=self.alerts + later.alerts,
            runs={**self.runs, **later.runs},
            journal=self.journal + later.journal,
        )


class BatchWriter:
    """Collects rows from any thread; ``write(batch)`` runs on a thread of its own."""

    def __init__(
        self,
        write: Callable[[Batch], None],
        *,
        max_delay: float = DEFAULT_MAX_DELAY_S,
        max_events: int = DEFAULT_MAX_EVENTS,
        retry: Callable[[Exception], bool] = lambda exc: False,
        name: str = "tide-store-writer",
    ) -> None:
        self._write = write
        # Whether a write failed for a passing reason: its batch is then tried again.
        self._retry = retry
        self.max_delay = max_delay
        self.max_events = max_events
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pending = Batch()
        self._count = 0
        self._first_at = 0.0
        self._urgent = False
        self._waiters: list[threading.Event] = []
        self._closing = False
        # Journal rows put and written so far: a reader can tell the journal is on disk.
        self._journal_put = 0
        self._journal_written = 0
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def put_chunk(self, chunk: Row) -> None:
        """A chunk (see ``Batch.chunks``): the short path for nearly every event of a run,
        which changes nothing else."""
        with self._lock:
            self._pending.chunks.append(chunk)
            self._count += 1
            if not self._first_at or self._count == self.max_events:
                self._added()

    def put(
        self,
        *,
        event: Row | None = None,
        run: tuple[str, Row] | None = None,
        turn: Row | None = None,
        alert: Row | None = None,
        journal: Row | None = None,
        urgent: bool = False,
    ) -> None:
        with self._lock:
            pending = self._pending
            if event is not None:
                pending.events.append(event)
                self._count += 1
            if run is not None:
                pending.runs[run[0]] = run[1]
            if turn is not None:
                pending.turns.append(turn)
            if alert is not None:
                pending.alerts.append(alert)
            if journal is not None:
                pending.journal.append(journal)
                self._journal_put += 1
            self._urgent = self._urgent or urgent
            self._added()

    def _added(self) -> None:
        # Called with the lock held. The thread is woken once to start the batch's clock, once
        # when the batch is full, and when it must be written at once: never for every event,
        # since each wake-up makes the event loop's thread hand over the GIL.
        if not self._first_at:
            self._first_at = time.monotonic()
            self._wake.set()
        elif self._count == self.max_events or self._urgent:
            self._wake.set()

    def journal_written(self) -> bool:
        """Whether every journal row put so far has been written (read from any thread)."""
        return self._journal_written >= self._journal_put

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything put so far is written; False on timeout."""
        done = threading.Event()
        with self._lock:
            if not self._thread.is_alive():
                return True
            self._waiters.append(done)
        self._wake.set()
        return done.wait(timeout)

    def close(self, timeout: float | None = 10.0) -> None:
        """Write what is left and stop the thread."""
        with self._lock:
            self._closing = True
        self._wake.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        timeout: float | None = None
        failing_since: float | None = None
        while True:
            self._wake.wait(timeout)
            self._wake.clear()
            with self._lock:
                now = time.monotonic()
                due_at = self._first_at + self.max_delay if self._first_at else None
                if not (
                    self._urgent
                    or self._closing
                    or self._waiters
                    or self._count >= self.max_events
                    or (due_at is not None and now >= due_at)
                ):
                    timeout = None if due_at is None else due_at - now
                    continue
                batch, self._pending = self._pending, Batch()
                self._count = 0
                waiters, self._waiters = self._waiters, []
                self._urgent = False
                self._first_at = 0.0
                closing = self._closing
            timeout = None
            if not self._commit(batch, failing_since):
                # Tried again shortly, with what came meanwhile; its waiters keep waiting.
                failing_since = failing_since or time.monotonic()
                with self._lock:
                    self._pending = batch.then(self._pending)
                    self._count += batch.size
                    self._waiters = waiters + self._waiters
                    self._first_at = time.monotonic()
                timeout = self.max_delay
                continue
            failing_since = None
            self._journal_written += len(batch.journal)
            for waiter in waiters:
                waiter.set()
            if closing:
                return

    def _commit(self, batch: Batch, failing_since: float | None) -> bool:
        """Write ``batch``; False if it is to be tried again."""
        if not batch:
            return True
        try:
            self._write(batch)
        except Exception as exc:
            failing_for = 0.0 if failing_since is None else time.monotonic() - failing_since
            if self._retry(exc) and failing_for < RETRY_FOR_S:
                if failing_since is None:
                    log.warning("the execution store is busy (%s): its writes wait", exc)
                return False
            # A write that keeps failing (disk full, a database locked for long) must not
            # take the thread down: later batches may succeed.
            log.exception("the execution store could not write %d events", batch.size)
        return True
