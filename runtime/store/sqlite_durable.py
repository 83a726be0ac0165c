"""The SQLite store's part in durable runs: the journal table, answering a waiting run's
request, and the requests whose timeout passed while no process was there to see it."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, closing
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread

from runtime.events import ErrorInfo, HumanResponseEvent, RunFailedEvent
from runtime.human_fields import check_answer
from runtime.store._owners import INTERRUPTED
from runtime.store.codec import encode_event
from runtime.store.interrupted import attempt_boundaries, parked_ms
from runtime.store.journal import JournalEntry, RequestMismatch, is_expired, request_position
from runtime.store.sqlite_rows import RUN_COLUMNS, UPSERT_RUN, run_record, run_row

if TYPE_CHECKING:
    from runtime.store.base import RunRecord
    from runtime.store.writer import BatchWriter

T = TypeVar("T")

JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    run_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    args_hash TEXT,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, position)
) WITHOUT ROWID;
"""
INSERT_JOURNAL = "INSERT OR REPLACE INTO journal VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_EVENT = "INSERT INTO events VALUES (?, ?, ?, ?, ?)"
TIMED_OUT_MESSAGE = (
    "a question to a person timed out and was answered with its default; "
    "resume the run to continue (tide runs resume {id})"
)


def journal_row(run_id: str, entry: JournalEntry) -> tuple[Any, ...]:
    return (
        run_id, entry.position, entry.kind, entry.name, entry.ordinal, entry.args_hash,
        entry.seq, entry.data_json(),
    )  # fmt: skip


def read_journal_rows(conn: sqlite3.Connection, run_id: str) -> list[JournalEntry]:
    rows = conn.execute(
        "SELECT position, kind, name, ordinal, args_hash, seq, data FROM journal "
        "WHERE run_id = ? ORDER BY position",
        (run_id,),
    )
    return [JournalEntry.from_row(*row) for row in rows]


def _last_seq(conn: sqlite3.Connection, run_id: str) -> int:
    row = conn.execute("SELECT MAX(seq) FROM events WHERE run_id = ?", (run_id,)).fetchone()
    return int(row[0] or 0)


class DurableSQLite:
    """Mixed into ``SQLiteStore``: what ``ExecutionStore`` asks of a store for durable runs."""

    _owner: str
    _live: dict[str, RunRecord]
    _records_lock: threading.Lock
    _writer: BatchWriter

    def _connect(self, *, readonly: bool = False) -> sqlite3.Connection:
        raise NotImplementedError

    def _reader(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    # -- the journal ------------------------------------------------------------------------

    def record_journal(self, run_id: str, entry: JournalEntry, *, urgent: bool = True) -> None:
        self._writer.put(journal=journal_row(run_id, entry), urgent=urgent)

    async def journal_durable(self) -> None:
        if not self._writer.journal_written():
            await anyio.to_thread.run_sync(self._writer.flush)

    async def read_journal(self, run_id: str) -> list[JournalEntry]:
        return await self._read(partial(read_journal_rows, run_id=run_id))

    async def last_seq(self, run_id: str) -> int:
        return await self._read(partial(_last_seq, run_id=run_id))

    async def attempt_boundaries(self, run_id: str) -> list[int]:
        return await self._read(partial(attempt_boundaries, run_id=run_id))

    def resume_record(self, record: RunRecord) -> None:
        with self._records_lock:
            live = replace(
                record,
                status="running",
                error=None,
                finished_at=None,
                partial_text=None,
                totals=record.totals.model_copy(),
            )
            self._live[record.id] = live
            row = run_row(live, self._owner)
        self._writer.put(run=(record.id, row), urgent=True)

    # -- answers ----------------------------------------------------------------------------

    async def answer_request(
        self, run_id: str, request_id: str, value: Any, answered_by: str
    ) -> RunRecord:
        return await anyio.to_thread.run_sync(
            self.answer_request_sync, run_id, request_id, value, answered_by
        )

    def answer_request_sync(
        self, run_id: str, request_id: str, value: Any, answered_by: str
    ) -> RunRecord:
        with self._transaction() as conn:
            return self._answer(conn, run_id, request_id, value, answered_by, resume_here=True)

    def _answer(
        self,
        conn: sqlite3.Connection,
        run_id: str,
        request_id: str,
        value: Any,
        answered_by: str,
        *,
        resume_here: bool,
    ) -> RunRecord:
        row = conn.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(run_id)
        record = run_record(row)
        request = next((p for p in record.pending if p["request_id"] == request_id), None)
        position = request_position(run_id, request_id)
        if record.status != "waiting" or request is None or position is None:
            waiting = "" if record.status == "waiting" else f" (it is {record.status})"
            raise RequestMismatch(
                f"run '{run_id}' is not waiting for request '{request_id}'{waiting}",
                record.pending,
            )
        if answered_by != "default":  # a timed-out request takes its default as it is
            value = check_answer(request, value)
        seq = _last_seq(conn, run_id) + 1
        event = HumanResponseEvent(
            run_id=run_id,
            seq=seq,
            request_id=request_id,
            value=value,
            answered_by=answered_by,  # type: ignore[arg-type]
        )
        (ordinal,) = conn.execute(
            "SELECT COUNT(*) FROM journal WHERE run_id = ? AND kind = 'human' AND name = ?",
            (run_id, request["kind"]),
        ).fetchone()
        entry = JournalEntry(
            position=position,
            kind="human",
            name=str(request["kind"]),
            ordinal=int(ordinal),
            args_hash=None,
            value=value,
            seq=seq,
            end_position=position + 1,
            extra={"answered_by": answered_by},
        )
        conn.execute(_EVENT, encode_event(event))
        conn.execute(INSERT_JOURNAL, journal_row(run_id, entry))
        record.apply(event)
        if not record.pending:
            # Its duration counts the attempt that ran until it asked, not the wait.
            record.totals.duration_ms += parked_ms(conn, run_id)
        if record.status == "running" and not resume_here:
            # Nobody runs it here: it ends, for its watchers too, until it is resumed.
            message = TIMED_OUT_MESSAGE.format(id=run_id)
            failed = RunFailedEvent(
                run_id=run_id,
                seq=seq + 1,
                error=ErrorInfo(kind=INTERRUPTED, message=message),
                totals=record.totals,
            )
            conn.execute(_EVENT, encode_event(failed))
            record.apply(failed)
        conn.execute(UPSERT_RUN, run_row(record, self._owner))
        return record

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return _immediate(self._connect())

    # -- timeouts ---------------------------------------------------------------------------

    def expire_requests_sync(self, now: datetime | None = None) -> list[str]:
        """Answer with its default every pending request whose timeout has passed."""
        moment = now or datetime.now(UTC)
        with closing(self._connect()) as conn:
            waiting = conn.execute(
                "SELECT id, pending FROM runs WHERE status = 'waiting' AND pending IS NOT NULL"
            ).fetchall()
        expired: list[tuple[str, dict[str, Any]]] = []
        for run_id, pending in waiting:
            for request in json.loads(pending):
                if is_expired(request, moment):
                    expired.append((run_id, request))
        answered: list[str] = []
        for run_id, request in expired:
            try:
                with self._transaction() as conn:
                    self._answer(
                        conn,
                        run_id,
                        request["request_id"],
                        request.get("default"),
                        "default",
                        resume_here=False,
                    )
            except RequestMismatch:
                continue  # answered meanwhile
            answered.append(run_id)
        return answered

    async def expire_requests(self) -> list[str]:
        return await anyio.to_thread.run_sync(self.expire_requests_sync)


class _immediate(AbstractContextManager[sqlite3.Connection]):
    """A connection in a ``BEGIN IMMEDIATE`` transaction, committed on success, then closed."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self._conn.execute("BEGIN IMMEDIATE")
        return self._conn

    def __exit__(self, kind: object, *rest: object) -> None:
        try:
            self._conn.execute("COMMIT" if kind is None else "ROLLBACK")
        finally:
            self._conn.close()
