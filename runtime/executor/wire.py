"""The byte stream between a host and its executors: one JSON document per line."""

from __future__ import annotations

import json
from typing import Any

from runtime._convert import clip
from runtime.events import Event

# The longest line a host reads from an executor; an event is cut well below it.
MAX_LINE_BYTES = 8 * 1024 * 1024
# A single event's JSON is kept under this: its longest texts are cut, with a marker.
MAX_EVENT_BYTES = 1024 * 1024


def event_line(event: Event) -> bytes:
    """The event's JSON line, its texts cut (visibly) if it would pass ``MAX_EVENT_BYTES``."""
    data = event.model_dump_json().encode()
    if len(data) <= MAX_EVENT_BYTES:
        return data + b"\n"
    document = json.loads(data)
    for limit in (64 * 1024, 4 * 1024, 256):
        document = _clip_texts(document, limit)
        data = json.dumps(document, ensure_ascii=False).encode()
        if len(data) <= MAX_EVENT_BYTES:
            break
    return data + b"\n"


def _clip_texts(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return clip(value, limit)
    if isinstance(value, dict):
        return {k: _clip_texts(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) > 1000:
            value = [*value[:1000], f"…[truncated {len(value) - 1000:,} items]"]
        return [_clip_texts(v, limit) for v in value]
    return value
