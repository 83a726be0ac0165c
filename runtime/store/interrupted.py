"""What the record of a run whose process died keeps: as much as a failed run's."""

from __future__ import annotations

import sqlite3

from runtime.events import RunTotals
from runtime.store.codec import loads


def interrupted_fields(conn: sqlite3.Connection, run_id: str) -> tuple[float, str | None, str]:
    """The run's duration up to its last stored event (ms), the text of the turn that was
    streaming when it stopped, and its totals with that duration, as stored JSON."""
    row = conn.execute(
        "SELECT COALESCE(started_at, created_at) AS started, totals, "
        "(SELECT MAX(ts) FROM events WHERE run_id = runs.id) AS last FROM runs WHERE id = ?",
        (run_id,),
    ).fetchone()
    started, totals_json, last = row[0], row[1], row[2]
    duration = max(0.0, ((last or started) - started) / 1000)
    totals = RunTotals.model_validate_json(totals_json)
    totals.duration_ms = duration
    return duration, _last_turn_text(conn, run_id), totals.model_dump_json()


def _last_turn_text(conn: sqlite3.Connection, run_id: str) -> str | None:
    chunk = "SELECT data FROM events WHERE run_id = ? AND type = 'agent_stream_chunk'"
    last = conn.execute(chunk + " ORDER BY seq DESC LIMIT 1", (run_id,)).fetchone()
    if last is None:
        return None
    agent, turn = loads(last[0])[:2]
    rows = conn.execute(
        chunk + " AND data ->> '$[0]' = ? AND data ->> '$[1]' = ? ORDER BY seq",
        (run_id, agent, turn),
    )
    return "".join(loads(data)[3] for (data,) in rows) or None
