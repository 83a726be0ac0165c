"""The bytes between Tide's processes: messages with the descriptors they carry, and event
lines cut below their limit."""

from __future__ import annotations

import json
import os
import socket

import pytest

from runtime.event_size import MAX_EVENT_BYTES
from runtime.events import AgentStreamChunkEvent, LogEvent, TextBuffer, parse_event
from runtime.wire import (
    MAX_MESSAGE_BYTES,
    event_line,
    receive_message,
    send_message,
)


def test_message_and_descriptors_arrive_together() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    read_end, write_end = os.pipe()
    with left, right:
        big = {"op": "run", "env": {f"K{i}": "v" * 100 for i in range(500)}}
        send_message(left, big, [write_end])
        message, fds = receive_message(right, max_fds=3)
        assert message == big
        assert len(fds) == 1
        os.write(fds[0], b"through the passed descriptor")
        assert os.read(read_end, 100) == b"through the passed descriptor"
        for fd in (*fds, read_end, write_end):
            os.close(fd)


def test_end_of_stream_is_a_connection_error() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with right:
        send_message(left, {"pid": 1})
        left.close()
        assert receive_message(right) == ({"pid": 1}, [])
        with pytest.raises(ConnectionError):
            receive_message(right)
        with pytest.raises(ConnectionError):
            receive_message(right, max_fds=1)


def test_oversized_message_is_refused() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        left.sendall((MAX_MESSAGE_BYTES + 1).to_bytes(4, "big"))
        with pytest.raises(ConnectionError, match="refused"):
            receive_message(right, max_fds=3)


def test_an_event_is_one_line_of_its_json() -> None:
    event = LogEvent(run_id="r", seq=3, level="info", message="a\nb", fields={"k": [1, 2]})
    line = event_line(event)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert parse_event(json.loads(line)) == event


def test_an_event_too_large_is_cut_visibly() -> None:
    event = LogEvent(run_id="r", seq=1, level="info", message="x" * (3 * MAX_EVENT_BYTES))
    line = event_line(event)
    assert len(line) <= MAX_EVENT_BYTES + 1
    message = parse_event(json.loads(line)).message
    assert "…[truncated" in message


def test_a_chunk_line_holds_the_chunk_not_the_turn_so_far() -> None:
    buffer = TextBuffer()
    lines = []
    for seq in range(1, 201):
        text = f"word{seq} "
        event = AgentStreamChunkEvent.from_buffer(
            buffer, text, buffer.append(text), run_id="r", seq=seq, agent="writer", turn=1
        )
        lines.append(event_line(event))
    last = json.loads(lines[-1])
    assert "accumulated_text" not in last
    assert (last["chunk_text"], last["offset"]) == ("word200 ", len(buffer) - len("word200 "))
    assert parse_event(last).model_dump(exclude={"ts", "accumulated_text"}) == event.model_dump(
        exclude={"ts", "accumulated_text"}
    )
    assert max(len(line) for line in lines) < 150
