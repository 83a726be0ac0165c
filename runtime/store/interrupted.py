"""What the record of a run whose process died keeps: as much as a failed run's, ending with a
``run_failed`` event (kind ``interrupted``) that every watcher of the run receives."""

from __future__ import annotations

import sqlite3

from runtime import chunks
from runtime.events import ErrorInfo, RunFailedEvent, RunTotals
from runtime.store._owners import INTERRUPTED, INTERRUPTED_MESSAGE
from runtime.store.codec import encode_event, from_micros

_INSERT_EVENT = "INSERT INTO events VALUES (?, ?, ?, ?, ?)"
# The events that begin or end one attempt of a run. A resumed run replays its procedure and
# numbers the events again as its earlier attempts did; these it never emits again, so its
# numbering steps over them (``EventBus.replaying``).
_BOUNDARIES = "('run_started', 'run_completed', 'run_failed', 'run_cancelled')"


def end_interrupted(conn: sqlite3.Connection, run_id: str) -> None:
    """Store the terminal event of a run whose process is gone and finish its row: the
    duration up to its last stored event (with its earlier attempts'), the text of the turn
    that was streaming. Call inside a write transaction; the row must still be unfinished."""
    row = conn.execute(
        "SELECT COALESCE(started_at, created_at), totals, "
        "(SELECT MAX(seq) FROM events WHERE run_id = runs.id), "
        "(SELECT MAX(ts) FROM events WHERE run_id = runs.id), "
        "(SELECT ts FROM events WHERE run_id = runs.id AND type = 'run_started' "
        " ORDER BY seq DESC LIMIT 1) FROM runs WHERE id = ?",
        (run_id,),
    ).fetchone()
    started, totals_json, last_seq, last_ts, attempt_started = row
    last_ts = last_ts or started
    totals = RunTotals.model_validate_json(totals_json)
    # The row's totals hold the earlier attempts' duration (a resumed run); this attempt ran
    # from its run_started to its last stored event.
    totals.duration_ms += max(0.0, (last_ts - (attempt_started or started)) / 1000)
    event = RunFailedEvent(
        run_id=run_id,
        seq=(last_seq or 0) + 1,
        ts=from_micros(last_ts),
        error=ErrorInfo(kind=INTERRUPTED, message=INTERRUPTED_MESSAGE),
        partial_text=_last_turn_text(conn, run_id),
        totals=totals,
    )
    conn.execute(_INSERT_EVENT, encode_event(event))
    conn.execute(
        "UPDATE runs SET status = 'failed', error = ?, owner = NULL, finished_at = ?, "
        "duration_ms = ?, partial_text = COALESCE(partial_text, ?), totals = ?, pending = NULL "
        "WHERE id = ?",
        (
            event.error.model_dump_json(),
            last_ts,
            totals.duration_ms,
            event.partial_text,
            totals.model_dump_json(),
            run_id,
        ),
    )


def attempt_boundaries(conn: sqlite3.Connection, run_id: str) -> list[int]:
    """The seqs of the events that began a resumed attempt or ended an attempt."""
    rows = conn.execute(
        f"SELECT seq FROM events WHERE run_id = ? AND seq > 1 AND type IN {_BOUNDARIES} "
        "ORDER BY seq",
        (run_id,),
    )
    return [seq for (seq,) in rows]


def parked_ms(conn: sqlite3.Connection, run_id: str) -> float:
    """How long the run's last attempt ran before it parked to wait for a person: from its
    run_started to the last question it asked."""
    row = conn.execute(
        "SELECT MAX(CASE WHEN type = 'human_request' THEN ts END), "
        "MAX(CASE WHEN type = 'run_started' THEN ts END) FROM events WHERE run_id = ?",
        (run_id,),
    ).fetchone()
    asked, started = row
    return max(0.0, (asked - started) / 1000) if asked and started else 0.0


def _last_turn_text(conn: sqlite3.Connection, run_id: str) -> str | None:
    """The text of the run's last streamed turn, rebuilt from its stored chunks by offset."""
    chunk = "SELECT seq, data FROM events WHERE run_id = ? AND type = 'agent_stream_chunk'"
    last = conn.execute(chunk + " ORDER BY seq DESC LIMIT 1", (run_id,)).fetchone()
    if last is None:
        return None
    _, agent, turn, _, _ = chunks.loads(last[1], last[0])
    rows = conn.execute(
        chunk + " AND data ->> '$[0]' = ? AND data ->> '$[1]' = ? ORDER BY seq",
        (run_id, agent, turn),
    )
    text = ""
    for seq, data in rows:
        _, _, _, offset, piece = chunks.loads(data, seq)
        text = text[:offset] + piece
    return text or None
