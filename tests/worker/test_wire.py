"""Messages between ``tide`` and a worker, with the descriptors they carry."""

from __future__ import annotations

import os
import socket

import pytest

from runtime.worker._wire import MAX_MESSAGE_BYTES, receive, send


def test_message_and_descriptors_arrive_together() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    read_end, write_end = os.pipe()
    with left, right:
        big = {"op": "run", "env": {f"K{i}": "v" * 100 for i in range(500)}}
        send(left, big, [write_end])
        message, fds = receive(right, max_fds=3)
        assert message == big
        assert len(fds) == 1
        os.write(fds[0], b"through the passed descriptor")
        assert os.read(read_end, 100) == b"through the passed descriptor"
        for fd in (*fds, read_end, write_end):
            os.close(fd)


def test_end_of_stream_is_a_connection_error() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with right:
        send(left, {"pid": 1})
        left.close()
        assert receive(right) == ({"pid": 1}, [])
        with pytest.raises(ConnectionError):
            receive(right)


def test_oversized_message_is_refused() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        left.sendall((MAX_MESSAGE_BYTES + 1).to_bytes(4, "big"))
        with pytest.raises(ConnectionError, match="refused"):
            receive(right, max_fds=3)
