"""The execution store in a SQLite file (``<workspace>/.tide/runs.db`` by default).

WAL mode with ``synchronous=NORMAL``: a committed batch survives the process being killed
(it is in the WAL file); a power cut may lose the last batches. Writes go through one writer
thread (``BatchWriter``); reads open their own connection in a worker thread, and WAL lets
them proceed while a batch is being written. Several processes (the IDE and ``tide run``) may
share a file: SQLite serializes their transactions.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, Unpack

import anyio
import anyio.to_thread

from runtime import chunks
from runtime.alerts import ALERT_SOURCE
from runtime.events import AgentStreamChunkEvent, CostEvent, Event, LogEvent
from runtime.store._owners import is_gone, this_process
from runtime.store.base import GroupBy, RunFilter, RunRecord, SeriesPoint, StatsRow, Window
from runtime.store.codec import (
    EventRow,
    decode_events,
    encode_event,
    to_micros,
)
from runtime.store.interrupted import end_interrupted
from runtime.store.series import query_series
from runtime.store.sqlite_durable import INSERT_JOURNAL, JOURNAL_SCHEMA, DurableSQLite
from runtime.store.sqlite_rows import RUN_COLUMNS, UPSERT_RUN, run_record, run_row
from runtime.store.stats import query_stats, tag_filter
from runtime.store.writer import DEFAULT_MAX_DELAY_S, DEFAULT_MAX_EVENTS, Batch, BatchWriter, Row

T = TypeVar("T")

STORE_DIR = ".tide"
STORE_FILE = "runs.db"
SCHEMA_VERSION = 5
_BUSY_TIMEOUT_MS = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    procedure TEXT NOT NULL,
    status TEXT NOT NULL,
    inputs TEXT NOT NULL,
    model TEXT,
    mock INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    output TEXT,
    error TEXT,
    partial_text TEXT,
    totals TEXT NOT NULL,
    duration_ms REAL,
    total_tokens INTEGER,
    cost_usd REAL,
    agent_turns INTEGER,
    ttft_ms REAL,
    owner TEXT,
    tags TEXT NOT NULL DEFAULT '{}',
    pending TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created_at DESC);
CREATE INDEX IF NOT EXISTS runs_by_procedure ON runs (procedure, created_at DESC);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    ts INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS turns (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    procedure TEXT NOT NULL,
    agent TEXT NOT NULL,
    turn INTEGER NOT NULL,
    model TEXT NOT NULL,
    provider TEXT NOT NULL,
    mock INTEGER NOT NULL,
    ttft_ms REAL,
    duration_ms REAL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    total_tokens INTEGER,
    cost_usd REAL,
    first_visible_ms REAL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS turns_by_ts ON turns (ts);
CREATE TABLE IF NOT EXISTS alerts (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    procedure TEXT NOT NULL,
    agent TEXT,
    model TEXT,
    metric TEXT,
    mock INTEGER NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS alerts_by_ts ON alerts (ts);
"""

_INSERT_TURN = "INSERT OR IGNORE INTO turns VALUES (" + ", ".join("?" * 16) + ")"
_INSERT_ALERT = "INSERT OR IGNORE INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_EVENT = "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?)"


def _busy(exc: Exception) -> bool:
    """Whether a write failed only because another connection held the database for longer
    than the busy timeout (many processes recording runs at once, on a loaded machine)."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    # Only errors SQLite raised carry its code; the extended code's low byte is the primary code.
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _chunk_row(chunk: Row) -> EventRow:
    """A queued chunk's row: its data in the one stored layout (``chunks.dumps``)."""
    run_id, seq, ts, agent, turn, offset, text = chunk
    return (run_id, seq, "agent_stream_chunk", ts, chunks.dumps((seq, agent, turn, offset, text)))


def _get_run(conn: sqlite3.Connection, run_id: str) -> RunRecord | None:
    found = conn.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
    return run_record(found) if found else None


def default_store_path(workspace: str | Path) -> Path:
    return Path(workspace) / STORE_DIR / STORE_FILE


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a store written by an older version up to this schema."""
    columns = {row["name"] for row in conn.execute("PRAGMA table_info(runs)")}
    if "owner" not in columns:
        conn.execute("ALTER TABLE runs ADD COLUMN owner TEXT")
    if "tags" not in columns:
        conn.execute("ALTER TABLE runs ADD COLUMN tags TEXT NOT NULL DEFAULT '{}'")
    if "pending" not in columns:
        conn.execute("ALTER TABLE runs ADD COLUMN pending TEXT")
    if "first_visible_ms" not in {row["name"] for row in conn.execute("PRAGMA table_info(turns)")}:
        # Turns recorded before it had a column: their cost events hold it.
        conn.execute("ALTER TABLE turns ADD COLUMN first_visible_ms REAL")
        conn.execute(
            "UPDATE turns SET first_visible_ms = (SELECT e.data ->> '$.first_visible_token_ms' "
            "FROM events e WHERE e.run_id = turns.run_id AND e.seq = turns.seq)"
        )
    conn.executescript(JOURNAL_SCHEMA)
    if conn.execute("PRAGMA user_version").fetchone()[0] < 4:
        # Alerts recorded before they had a table of their own.
        conn.execute(
            "INSERT OR IGNORE INTO alerts SELECT e.run_id, e.seq, e.ts, r.procedure, "
            "e.data ->> '$.fields.agent', e.data ->> '$.fields.model', "
            "e.data ->> '$.fields.alert', r.mock FROM events e JOIN runs r ON r.id = e.run_id "
            "WHERE e.type = 'log' AND e.data ->> '$.source' = ?",
            (ALERT_SOURCE,),
        )


def _window(window: Window) -> dict[str, Any]:
    """A ``Window`` as the queries take it: since when (µs since the epoch), mock, tags."""
    since = window.get("since")
    now = window.get("now") or datetime.now(UTC)
    return {
        "since": None if since is None else to_micros(now - since),
        "mock": window.get("include_mock", False),
        "tags": window.get("tags"),
    }


def _alert_row(record: RunRecord, e: LogEvent) -> tuple[Any, ...]:
    fields = e.fields
    return (
        e.run_id, e.seq, to_micros(e.ts), record.procedure, fields.get("agent"),
        fields.get("model"), fields.get("alert"), int(record.mock),
    )  # fmt: skip


def _turn_row(record: RunRecord, e: CostEvent) -> tuple[Any, ...]:
    return (
        e.run_id, e.seq, to_micros(e.ts), record.procedure, e.agent, e.turn, e.model, e.provider,
        int(record.mock), e.time_to_first_token_ms, e.duration_ms, e.prompt_tokens,
        e.completion_tokens, e.total_tokens, e.cost_usd, e.first_visible_token_ms,
    )  # fmt: skip


class SQLiteStore(DurableSQLite):
    """``ExecutionStore`` in a SQLite file. Open it, use it, ``aclose()`` (or ``close()``) it."""

    readonly = False

    def __init__(
        self,
        path: str | Path,
        *,
        max_delay: float = DEFAULT_MAX_DELAY_S,
        max_events: int = DEFAULT_MAX_EVENTS,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = self._connect()
        self._owner = this_process()
        with self._conn:
            self._conn.executescript(_SCHEMA)
            _migrate(self._conn)
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self.reap_abandoned_sync()
        self.expire_requests_sync()
        # Runs whose events are still arriving, by id: their rows follow from their events.
        self._live: dict[str, RunRecord] = {}
        self._records_lock = threading.Lock()
        self._writer = BatchWriter(
            self._write, max_delay=max_delay, max_events=max_events, retry=_busy
        )

    @classmethod
    def for_workspace(cls, workspace: str | Path, **options: Any) -> SQLiteStore:
        return cls(default_store_path(workspace), **options)

    def _connect(self, *, readonly: bool = False) -> sqlite3.Connection:
        if readonly:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        # First: switching to WAL waits for another process's write only with a busy timeout.
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.row_factory = sqlite3.Row
        return conn

    # -- writing ----------------------------------------------------------------------------

    def record_run(self, record: RunRecord) -> None:
        with self._records_lock:
            live = self._live.get(record.id)
            if live is not None and live.started_at is not None:
                return
            self._live[record.id] = record = replace(record, totals=record.totals.model_copy())
            row = run_row(record, self._owner)
        self._writer.put(run=(record.id, row))

    def record_event(self, event: Event) -> None:
        # The run's event loop calls this for every event. Chunks, nearly all of them, take the
        # short path: a tuple (the writer's thread makes their rows), and the run's record only
        # until its first token is noted.
        if event.type == "agent_stream_chunk":
            assert isinstance(event, AgentStreamChunkEvent)
            self._writer.put_chunk(
                (
                    event.run_id,
                    event.seq,
                    to_micros(event.ts),
                    event.agent,
                    event.turn,
                    event.offset,
                    event.chunk_text,
                )
            )
            record = self._live.get(event.run_id)
            if record is None or record.ttft_ms is not None or record.started_at is None:
                return
        with self._records_lock:
            record = self._live.get(event.run_id)
            if record is None:
                record = self._live[event.run_id] = self._stored_record(event)
            record.apply(event)
            run = (record.id, run_row(record, self._owner))
            if record.parked:
                del self._live[record.id]
        turn = _turn_row(record, event) if isinstance(event, CostEvent) else None
        alert = (
            _alert_row(record, event)
            if isinstance(event, LogEvent) and event.source == ALERT_SOURCE
            else None
        )
        if isinstance(event, AgentStreamChunkEvent):
            self._writer.put(run=run)
        else:
            self._writer.put(
                event=encode_event(event), run=run, turn=turn, alert=alert, urgent=record.parked
            )

    def release(self, run_id: str) -> None:
        with self._records_lock:
            self._live.pop(run_id, None)

    def _stored_record(self, event: Event) -> RunRecord:
        """The record of a run this process has not been recording (released, or recorded by
        another process), as stored: a rare read, on the caller's thread."""
        with self._reader() as conn:
            record = _get_run(conn, event.run_id)
        return record or RunRecord(id=event.run_id, procedure="?", created_at=event.ts)

    def flush_sync(self, timeout: float | None = None) -> bool:
        return self._writer.flush(timeout)

    async def flush(self) -> None:
        await anyio.to_thread.run_sync(self._writer.flush)

    def _write(self, batch: Batch) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(_INSERT_EVENT, map(_chunk_row, batch.chunks))
            conn.executemany(_INSERT_EVENT, batch.events)
            conn.executemany(_INSERT_TURN, batch.turns)
            conn.executemany(_INSERT_ALERT, batch.alerts)
            conn.executemany(UPSERT_RUN, batch.runs.values())
            conn.executemany(INSERT_JOURNAL, batch.journal)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def reap_abandoned_sync(self) -> list[str]:
        """Mark as failed the unfinished runs whose recording process on this host is gone;
        return their ids."""
        # Its own connections: the store's belongs to the writer thread.
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT id, owner FROM runs "
                "WHERE status IN ('queued', 'running') AND owner IS NOT NULL"
            ).fetchall()
        gone = [row["id"] for row in rows if is_gone(row["owner"])]
        if not gone:
            return []
        with self._transaction() as conn:
            # Read again inside the transaction: a run may have finished meanwhile.
            ended = [
                run_id
                for run_id in gone
                if conn.execute(
                    "SELECT 1 FROM runs WHERE id = ? AND status IN ('queued', 'running')",
                    (run_id,),
                ).fetchone()
            ]
            for run_id in ended:
                end_interrupted(conn, run_id)
        return ended

    async def reap_abandoned(self) -> list[str]:
        return await anyio.to_thread.run_sync(self.reap_abandoned_sync)

    def close(self) -> None:
        self._writer.close()
        self._conn.close()

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self.close)

    # -- reading ----------------------------------------------------------------------------

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect(readonly=True)) as conn:
            yield conn

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            with self._reader() as conn:
                return query(conn)

        return await anyio.to_thread.run_sync(run)

    async def list_runs(self, **filters: Unpack[RunFilter]) -> list[RunRecord]:
        return await self._read(partial(self.list_runs_sync, **filters))

    def list_runs_sync(
        self, conn: sqlite3.Connection, **filters: Unpack[RunFilter]
    ) -> list[RunRecord]:
        procedure, status = filters.get("procedure"), filters.get("status")
        id_prefix, tags = filters.get("id_prefix"), filters.get("tags")
        where: list[str] = []
        params: list[Any] = []
        if tags:
            condition, values = tag_filter(tags)
            where.append(condition)
            params += values
        if procedure:
            where.append("procedure = ?")
            params.append(procedure)
        if status:
            where.append("status = ?")
            params.append(status)
        if id_prefix:
            where.append("id >= ? AND id < ?")
            params += [id_prefix, id_prefix + "\U0010ffff"]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT {RUN_COLUMNS} FROM runs {clause} ORDER BY created_at DESC, id LIMIT ?"
        limit = max(0, filters.get("limit", 50))
        return [run_record(row) for row in conn.execute(sql, [*params, limit])]

    async def get_run(self, run_id: str) -> RunRecord | None:
        return await self._read(partial(_get_run, run_id=run_id))

    async def read_events(self, run_id: str, *, after: int = 0) -> list[Event]:
        def query(conn: sqlite3.Connection) -> list[EventRow]:
            sql = "SELECT run_id, seq, type, ts, data FROM events WHERE run_id = ? AND seq > ?"
            return [tuple(row) for row in conn.execute(sql + " ORDER BY seq", (run_id, after))]

        return decode_events(await self._read(query))

    async def stats(self, by: GroupBy, **window: Unpack[Window]) -> list[StatsRow]:
        return await self._read(partial(query_stats, by=by, **_window(window)))

    async def series(
        self, by: GroupBy, *, every: timedelta, **window: Unpack[Window]
    ) -> list[SeriesPoint]:
        return await self._read(partial(query_series, by=by, every=every, **_window(window)))

    async def __aenter__(self) -> SQLiteStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
