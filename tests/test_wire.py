"""The bytes between Tide's processes: messages with the descriptors they carry, and event
lines cut below their limit."""

from __future__ import annotations

import json
import os
import socket

import pytest

from runtime.events import LogEvent, parse_event
from runtime.wire import (
    MAX_EVENT_BYTES,
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
