"""How events are stored: one row per event, compact.

``run_id``, ``seq``, ``type`` and ``ts`` are columns; the rest is JSON. A chunk event keeps
only its delta, in the stored layout of ``runtime.chunks`` (``[agent, turn, offset,
chunk_text]``), never the text accumulated so far, so a run's rows grow linearly with its
answer. Reading rebuilds each turn's text in a shared buffer (``ChunkViews``), which restores
``accumulated_text`` at linear cost.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from runtime import chunks
from runtime.event_size import capped
from runtime.events import AgentStreamChunkEvent, Event, parse_event

EventRow = tuple[str, int, str, int, str]
"""(run_id, seq, type, ts in microseconds since the epoch, data)."""

_COLUMNS = {"run_id", "seq", "type", "ts"}


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None: JSON has no such numbers, and a store that
    held them would break every reader of the history (a browser's JSON.parse included)."""
    if isinstance(value, float):
        return value if value == value and value not in (math.inf, -math.inf) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def dumps(value: Any) -> str:
    """Valid JSON for any value a run holds (see ``finite``)."""
    try:
        return json.dumps(value, ensure_ascii=False, default=str, allow_nan=False)
    except ValueError:
        return json.dumps(finite(value), ensure_ascii=False, default=str, allow_nan=False)


def loads(text: str) -> Any:
    """JSON as stored, with any NaN or infinity written by an older version read as None."""
    return json.loads(text, parse_constant=lambda _: None)


def to_micros(moment: datetime) -> int:
    """Integer microseconds since the epoch. A float of seconds is off by less than half a
    microsecond for any date within centuries of now, so rounding it is exact (and faster
    than datetime arithmetic, which matters once per streamed chunk)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1e6 + 0.5)


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)


def encode_event(event: Event) -> EventRow:
    """The event's row; a large event's texts are cut (``runtime.event_size``)."""
    if isinstance(event, AgentStreamChunkEvent):
        data = chunks.dumps(chunks.chunk_of(event))
    else:
        data = event.model_dump_json(exclude=_COLUMNS)
    data = capped(data)
    return (event.run_id, event.seq, event.type, to_micros(event.ts), data)


class EventDecoder:
    """Rebuilds a run's events from rows read in order."""

    def __init__(self) -> None:
        self._chunks = chunks.ChunkViews()

    def decode(self, row: EventRow) -> Event:
        run_id, seq, kind, ts, data = row
        moment = from_micros(ts)
        if kind == "agent_stream_chunk":
            return self._chunks.view(chunks.loads(data, seq), run_id, moment)
        fields: dict[str, Any] = loads(data)
        fields.update(run_id=run_id, seq=seq, type=kind, ts=moment)
        return parse_event(fields)


def decode_events(rows: Iterable[EventRow]) -> list[Event]:
    decoder = EventDecoder()
    return [decoder.decode(row) for row in rows]


def turn_texts(events: Iterable[Event]) -> dict[tuple[str, int], str]:
    """Each turn's streamed text, rebuilt from its chunk events by offset."""
    texts: dict[tuple[str, int], str] = {}
    for event in events:
        if isinstance(event, AgentStreamChunkEvent):
            key = (event.agent, event.turn)
            text = texts.get(key, "")
            texts[key] = text[: event.offset] + event.chunk_text
    return texts
