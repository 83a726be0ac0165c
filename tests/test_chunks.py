"""A chunk's compact shape, its two JSON layouts, its typed view and merging."""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime

from runtime import chunks
from runtime.chunks import Chunk, ChunkViews, chunk_of, merge
from runtime.events import AgentStreamChunkEvent, LogEvent, TextBuffer, parse_event

TS = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
AWKWARD = 'quote " backslash \\ newline \n tab \t nul \x00 é 漢 \u2028 😀'


def _chunk(seq: int, offset: int, text: str, agent: str = "writer", turn: int = 1) -> Chunk:
    return (seq, agent, turn, offset, text)


def test_the_stored_layout_is_the_compact_list_older_rows_hold() -> None:
    chunk = _chunk(7, 12, AWKWARD, agent='a"gent')
    data = chunks.dumps(chunk)
    older = json.dumps(
        [chunk[1], chunk[2], chunk[3], chunk[4]], ensure_ascii=False, separators=(",", ":")
    )
    assert data == older
    assert chunks.loads(data, 7) == chunk
    assert chunks.dumps(_chunk(1, 0, "")) == '["writer",1,0,""]'


def test_the_public_layout_is_the_view_without_its_time_and_accumulated_text() -> None:
    chunk = _chunk(3, 5, AWKWARD, agent="wri\u00e9ter", turn=2)
    data = chunks.event_json(chunk, "run-1")
    assert data.startswith('{"type":"agent_stream_chunk","run_id":"run-1","seq":3,')
    view = parse_event(data)
    assert isinstance(view, AgentStreamChunkEvent)
    assert chunk_of(view) == chunk
    expected = view.model_dump(mode="json", exclude={"ts", "accumulated_text"})
    assert json.loads(data) == expected


def test_views_share_one_buffer_per_turn() -> None:
    views = ChunkViews()
    first = views.view(_chunk(1, 0, "Hel"), "r", TS)
    other = views.view(_chunk(2, 0, "Yo", agent="critic"), "r", TS)
    second = views.view(_chunk(3, 3, "lo"), "r", TS)
    assert (first.accumulated_text, second.accumulated_text, other.accumulated_text) == (
        "Hel",
        "Hello",
        "Yo",
    )
    assert first.ts == TS and first.run_id == "r" and chunk_of(second) == _chunk(3, 3, "lo")


def test_a_view_from_the_middle_of_a_turn_has_only_its_own_text() -> None:
    views = ChunkViews()
    middle = views.view(_chunk(9, 40, "tail"), "r")
    assert (middle.chunk_text, middle.offset, middle.accumulated_text) == ("tail", 40, "")


def test_the_view_and_the_chunk_say_the_same() -> None:
    buffer = TextBuffer()
    event = AgentStreamChunkEvent.from_buffer(
        buffer, "abc", buffer.append("abc"), run_id="r", seq=4, agent="a", turn=2
    )
    assert chunk_of(event) == (4, "a", 2, 0, "abc")


def test_a_chunk_costs_the_garbage_collector_nothing() -> None:
    chunk = chunk_of(parse_event(chunks.event_json(_chunk(1, 0, "x" * 3), "r")))  # type: ignore[arg-type]
    gc.collect()
    assert not gc.is_tracked(chunk)


def test_merge_joins_consecutive_chunks_of_a_turn() -> None:
    log = LogEvent(run_id="r", seq=4, level="info", message="m")
    entries = [
        _chunk(1, 0, "He"),
        _chunk(2, 2, "llo"),
        _chunk(3, 0, "Hi", agent="critic"),
        log,
        _chunk(5, 5, " world"),
        _chunk(6, 11, "!"),
        _chunk(7, 0, "again", turn=2),
    ]
    assert merge(entries) == [
        _chunk(2, 0, "Hello"),
        _chunk(3, 0, "Hi", agent="critic"),
        log,
        _chunk(6, 5, " world!"),
        _chunk(7, 0, "again", turn=2),
    ]


def test_merge_keeps_apart_chunks_that_do_not_follow_on() -> None:
    gap = [_chunk(1, 0, "ab"), _chunk(2, 5, "cd")]
    rewind = [_chunk(1, 0, "ab"), _chunk(2, 0, "AB")]
    assert merge(gap) == gap
    assert merge(rewind) == rewind


def test_merge_takes_views_and_leaves_a_lone_chunk_as_it_is() -> None:
    views = ChunkViews()
    entries = [views.view(_chunk(1, 0, "a"), "r"), views.view(_chunk(2, 1, "b"), "r")]
    assert merge(entries) == [_chunk(2, 0, "ab")]
    lone = _chunk(1, 0, "a")
    assert merge([lone])[0] is lone
    assert merge([]) == []
