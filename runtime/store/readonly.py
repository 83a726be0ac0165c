"""A run history that cannot be written (a read-only file, folder or disk), read as it is.

``tide runs``, ``tide stats`` and the IDE's history still show it; nothing is recorded, so
starting, resuming or answering a run is refused with ``READ_ONLY_HINT``'s advice, and runs
whose process stopped are shown as the file has them (nobody may mark them interrupted).
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from runtime.events import Event
from runtime.store._owners import this_process
from runtime.store.base import RunRecord
from runtime.store.journal import JournalEntry
from runtime.store.sqlite import SQLiteStore

READ_ONLY_HINT = "make it writable (chmod u+w {path} and its folder), then start again"


class ReadOnlyStore(SQLiteStore):
    """``SQLiteStore`` that only reads. Every write raises ``PermissionError``."""

    readonly = True

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._owner = this_process()
        self._live: dict[str, RunRecord] = {}
        self._records_lock = threading.Lock()
        self._immutable = False
        try:
            self._probe()
        except sqlite3.OperationalError:
            # A database in WAL mode is opened read-only only with its -shm file, which a
            # read-only folder cannot get: then read the file as it is, unchanging.
            self._immutable = True
            self._probe()

    def _probe(self) -> None:
        conn = self._connect(readonly=True)
        try:
            conn.execute("SELECT id FROM runs LIMIT 1").fetchall()
        finally:
            conn.close()

    def _connect(self, *, readonly: bool = False) -> sqlite3.Connection:
        uri = f"{self.path.resolve().as_uri()}?{'immutable=1' if self._immutable else 'mode=ro'}"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        return conn

    def _refuse(self) -> NoReturn:
        raise PermissionError(f"the run history {self.path} is read-only")

    def record_run(self, record: RunRecord) -> None:
        self._refuse()

    def record_event(self, event: Event) -> None:
        self._refuse()

    def record_journal(self, run_id: str, entry: JournalEntry, *, urgent: bool = True) -> None:
        self._refuse()

    def resume_record(self, record: RunRecord) -> None:
        self._refuse()

    def answer_request_sync(
        self, run_id: str, request_id: str, value: Any, answered_by: str
    ) -> RunRecord:
        self._refuse()

    def flush_sync(self, timeout: float | None = None) -> bool:
        return True

    async def flush(self) -> None:
        return None

    async def journal_durable(self) -> None:
        return None

    def reap_abandoned_sync(self) -> list[str]:
        return []

    def expire_requests_sync(self, now: datetime | None = None) -> list[str]:
        return []

    def close(self) -> None:
        return None
