"""A streamed chunk's one compact shape, and its JSON.

A chunk of an agent's answer travels as the plain tuple ``(seq, agent, turn, offset, text)``
(``Chunk``): the store writes it, the IDE's relay keeps it, ``merge`` joins consecutive ones of a
turn into one, and the server-sent-event encoders write it. A plain tuple of strings and numbers
is the cheapest object Python has for it, and CPython's garbage collector stops tracking it: a
server holding long answers (running, or finished and kept for reconnects) would otherwise make
every full collection, a pause of every stream, walk them all.

``AgentStreamChunkEvent`` is its typed public view (``chunk_of`` and ``ChunkViews.view`` go
each way); the view's ``accumulated_text`` comes from a ``TextBuffer`` that every chunk of a
turn shares, never from a copy per chunk.

Its JSON has two layouts, each with one encoder and one decoder, here:

- stored (``dumps``/``loads``): ``[agent, turn, offset, text]``; the run, seq and time are the
  store's columns;
- public (``event_json``, read back by ``parse_event``): the view's fields without ``ts`` and
  ``accumulated_text``, which is what a browser, the AI SDK and an executor's host receive
  (the reader rebuilds a turn's text by offset).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any

from runtime.events import AgentStreamChunkEvent, Event, TextBuffer

Chunk = tuple[int, str, int, int, str]
"""(seq, agent, turn, offset, text): ``text`` starts at ``offset`` in the turn's answer."""

Entry = Event | Chunk
"""What a reader of a run takes: an event, or a chunk in its compact shape."""

_quote = encode_basestring  # a str as JSON, as json.dumps(..., ensure_ascii=False) writes it


def chunk_of(event: AgentStreamChunkEvent) -> Chunk:
    return (event.seq, event.agent, event.turn, event.offset, event.chunk_text)


def is_chunk(entry: Entry) -> bool:
    return isinstance(entry, tuple | AgentStreamChunkEvent)


def seq_of(entry: Entry) -> int:
    return entry[0] if isinstance(entry, tuple) else entry.seq


# -- JSON ---------------------------------------------------------------------------------------


def dumps(chunk: Chunk) -> str:
    """The stored layout: ``["agent",1,0,"text"]`` (compact, not ASCII-escaped)."""
    _, agent, turn, offset, text = chunk
    return f"[{_quote(agent)},{turn},{offset},{_quote(text)}]"


def loads(data: str, seq: int) -> Chunk:
    """The chunk stored as ``data`` (``dumps``), numbered ``seq``."""
    agent, turn, offset, text = json.loads(data)
    return (seq, str(agent), int(turn), int(offset), str(text))


def event_json(chunk: Chunk, run_id: str) -> str:
    """The public layout: ``{"type":"agent_stream_chunk","run_id":…,"seq":…,"agent":…,
    "turn":…,"chunk_text":…,"offset":…}``, which ``parse_event`` reads as the view."""
    seq, agent, turn, offset, text = chunk
    return (
        f'{{"type":"agent_stream_chunk","run_id":{_quote(run_id)},"seq":{seq},'
        f'"agent":{_quote(agent)},"turn":{turn},"chunk_text":{_quote(text)},"offset":{offset}}}'
    )


# -- the typed view -----------------------------------------------------------------------------


class ChunkViews:
    """Typed views of a run's chunks taken in order. Each turn's text is rebuilt in one buffer
    that all of the turn's views share, which gives ``accumulated_text`` at linear cost."""

    def __init__(self) -> None:
        self._turns: dict[tuple[str, int], TextBuffer] = {}

    def view(self, chunk: Chunk, run_id: str, ts: datetime | None = None) -> AgentStreamChunkEvent:
        seq, agent, turn, offset, text = chunk
        fields: dict[str, Any] = {"run_id": run_id, "seq": seq, "agent": agent, "turn": turn}
        if ts is not None:
            fields["ts"] = ts
        buffer = self._turns.setdefault((agent, turn), TextBuffer())
        if len(buffer) != offset:
            # Taken from the middle of a turn (a reader that resumes): the text before it is
            # not here, and a later chunk that rewinds does not belong to this buffer.
            return AgentStreamChunkEvent(chunk_text=text, offset=offset, **fields)
        buffer.append(text)
        return AgentStreamChunkEvent.from_buffer(buffer, text, offset, **fields)


# -- merging ------------------------------------------------------------------------------------


def merge(entries: Iterable[Entry]) -> list[Entry]:
    """``entries`` with each run of consecutive chunks of a turn (each starting where the one
    before it ended) as one chunk: its text theirs joined, its offset the first one's, its seq
    the last one's. A reader that rebuilds text by offset gets the same text from fewer
    messages, and one that resumes after the merged chunk's seq misses nothing."""
    out: list[Entry] = []
    first: Chunk | None = None
    parts: list[str] = []
    seq = end = 0
    for entry in entries:
        if isinstance(entry, tuple):
            chunk = entry
        elif isinstance(entry, AgentStreamChunkEvent):
            chunk = chunk_of(entry)
        else:
            if first is not None:
                out.append(_joined(first, seq, parts))
                first = None
            out.append(entry)
            continue
        if first is not None and chunk[3] == end and chunk[2] == first[2] and chunk[1] == first[1]:
            parts.append(chunk[4])
            seq = chunk[0]
            end += len(chunk[4])
            continue
        if first is not None:
            out.append(_joined(first, seq, parts))
        first, parts, seq, end = chunk, [chunk[4]], chunk[0], chunk[3] + len(chunk[4])
    if first is not None:
        out.append(_joined(first, seq, parts))
    return out


def _joined(first: Chunk, seq: int, parts: list[str]) -> Chunk:
    if len(parts) == 1:
        return first
    return (seq, first[1], first[2], first[3], "".join(parts))
