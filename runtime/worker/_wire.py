"""Messages between ``tide`` and a worker: a length, then JSON; file descriptors ride along
with the first bytes of the message that carries them."""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Sequence
from typing import Any

_HEADER = struct.Struct("!I")
# A command's environment is the largest thing sent; this is far above any real one.
MAX_MESSAGE_BYTES = 4 << 20


def send(sock: socket.socket, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
    body = json.dumps(message).encode()
    data = _HEADER.pack(len(body)) + body
    sent = socket.send_fds(sock, [data], list(fds)) if fds else 0
    sock.sendall(data[sent:])


def receive(sock: socket.socket, *, max_fds: int = 0) -> tuple[dict[str, Any], list[int]]:
    """The next message and the descriptors that came with it; ``ConnectionError`` at EOF."""
    fds: list[int] = []
    header = b""
    if max_fds:
        header, fds, _flags, _address = socket.recv_fds(sock, _HEADER.size, max_fds)
        if not header:
            raise ConnectionError("the other side closed the connection")
    header += _read_exact(sock, _HEADER.size - len(header))
    (length,) = _HEADER.unpack(header)
    if length > MAX_MESSAGE_BYTES:
        raise ConnectionError(f"message of {length} bytes refused")
    message = json.loads(_read_exact(sock, length))
    if not isinstance(message, dict):
        raise ConnectionError("malformed message")
    return message, fds


def _read_exact(sock: socket.socket, size: int) -> bytes:
    parts = []
    while size:
        part = sock.recv(size)
        if not part:
            raise ConnectionError("the other side closed the connection")
        parts.append(part)
        size -= len(part)
    return b"".join(parts)
