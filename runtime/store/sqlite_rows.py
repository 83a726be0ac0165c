"""How a run's row is written to and read from the SQLite store's ``runs`` table."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from runtime.events import ErrorInfo, RunTotals
from runtime.store.base import RunRecord, RunStatus
from runtime.store.codec import dumps, from_micros, loads, to_micros

RUN_COLUMNS = (
    "id, procedure, status, inputs, model, mock, created_at, started_at, finished_at, output, "
    "error, partial_text, totals, duration_ms, total_tokens, cost_usd, agent_turns, ttft_ms, "
    "owner, tags, pending"
)
UPSERT_RUN = (
    f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({', '.join('?' * len(RUN_COLUMNS.split(', ')))}) "
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in RUN_COLUMNS.split(", ")[1:])
)


def _dumps(value: Any) -> str:
    return dumps(value)


def _micros(moment: datetime | None) -> int | None:
    return None if moment is None else to_micros(moment)


def _time(value: int | None) -> datetime | None:
    return None if value is None else from_micros(value)


def run_row(r: RunRecord, owner: str) -> tuple[Any, ...]:
    t = r.totals
    error = r.error.model_dump_json() if r.error else None
    return (
        r.id, r.procedure, r.status, _dumps(r.inputs), r.model, int(r.mock),
        to_micros(r.created_at), _micros(r.started_at), _micros(r.finished_at),
        None if r.output is None else _dumps(r.output), error, r.partial_text,
        t.model_dump_json(), t.duration_ms if r.finished else None, t.total_tokens, t.cost_usd,
        t.agent_turns, r.ttft_ms, None if r.parked else owner, _dumps(r.tags),
        _dumps(r.pending) if r.pending else None,
    )  # fmt: skip


def run_record(row: sqlite3.Row) -> RunRecord:
    status: RunStatus = row["status"]
    return RunRecord(
        id=row["id"],
        procedure=row["procedure"],
        status=status,
        inputs=loads(row["inputs"]),
        model=row["model"],
        mock=bool(row["mock"]),
        created_at=from_micros(row["created_at"]),
        started_at=_time(row["started_at"]),
        finished_at=_time(row["finished_at"]),
        output=None if row["output"] is None else loads(row["output"]),
        error=None if row["error"] is None else ErrorInfo.model_validate_json(row["error"]),
        partial_text=row["partial_text"],
        totals=RunTotals.model_validate_json(row["totals"]),
        ttft_ms=row["ttft_ms"],
        tags=json.loads(row["tags"] or "{}"),
        pending=json.loads(row["pending"]) if row["pending"] else [],
    )
