"""The size caps of a single event and of a single log field, wherever the event is kept or
sent: an executor's event line to its host and a row of the history.

A procedure decides how large its events are (a tool's arguments, a log message), so one event
may be megabytes. Past ``MAX_EVENT_BYTES`` of JSON, the event's longest texts are cut, with a
visible marker of what was left out; the full value is never kept. The run itself is not cut
short: its memory limit counts what it hands over in full (see ``runtime.memory``).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

# A single event's JSON (UTF-8) is kept under this.
MAX_EVENT_BYTES = 1024 * 1024
# A log field's text (and a log message) is cut here.
MAX_FIELD_CHARS = 64 * 1024
# Each text is cut to the first of these that brings the event under the cap.
_TEXT_LIMITS = (64 * 1024, 4 * 1024, 256)
# A list or an object keeps this many items, then says how many it left out.
_ITEMS = 1000


def capped(data: str) -> str:
    """An event's JSON ``data``, or, if it passes ``MAX_EVENT_BYTES``, the same document with
    its texts and collections cut (visibly) until it does not."""
    # A character is at most four bytes: most events are measured without encoding them.
    if len(data) <= MAX_EVENT_BYTES // 4 or len(data.encode()) <= MAX_EVENT_BYTES:
        return data
    document = json.loads(data)
    for limit in _TEXT_LIMITS:
        # Each time from the whole document, so that every marker counts what the original had.
        data = json.dumps(_cut(document, limit), ensure_ascii=False)
        if len(data.encode()) <= MAX_EVENT_BYTES:
            return data
    # Still too large (collections within collections): the event's fields keep their type and
    # say what their contents took.
    return json.dumps(_emptied(document), ensure_ascii=False)


def clip(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """``text`` cut to ``limit`` characters, with a visible marker of what was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[truncated {len(text) - limit:,} characters]"


def _cut(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return clip(value, limit)
    if isinstance(value, dict):
        cut = {k: _cut(v, limit) for k, v in itertools.islice(value.items(), _ITEMS)}
        if len(value) > _ITEMS:
            cut["…"] = f"[truncated {len(value) - _ITEMS:,} keys]"
        return cut
    if isinstance(value, list):
        items = [_cut(v, limit) for v in value[:_ITEMS]]
        if len(value) > _ITEMS:
            items.append(f"…[truncated {len(value) - _ITEMS:,} items]")
        return items
    return value


def _emptied(document: Any) -> Any:
    def field(value: Any) -> Any:
        if isinstance(value, str):
            return clip(value, _TEXT_LIMITS[-1])
        if not isinstance(value, (dict, list)):
            return value
        marker = f"[truncated: {len(json.dumps(value, ensure_ascii=False).encode()):,} bytes]"
        return {"…": marker} if isinstance(value, dict) else [f"…{marker}"]

    if isinstance(document, dict):
        return {k: field(v) for k, v in document.items()}
    if isinstance(document, list):
        return [field(v) for v in document]
    return field(document)
