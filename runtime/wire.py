"""The bytes between Tide's own processes, over Unix sockets.

- Messages (``send_message``, ``receive_message``): a 4-byte length, then a JSON object; file
  descriptors ride along with the message's first bytes. ``tide`` and its worker speak them, and
  so do a host and its executors' fork server.
- Event lines (``event_line``): one event's usual JSON per line, an executor's events to its
  host; a chunk in its public layout (``runtime.chunks``), without the text accumulated so far,
  which the host rebuilds (``ChunkViews``). Between them, the executor's own lines, objects
  without a ``type``: ``started``, ``parked``, ``error``, and ``where`` (the file:line a run past
  its time was last seen at, for the error of a run stopped by force). Nothing else crosses, so
  the same stream could come from another machine.
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.events import Event

_HEADER = struct.Struct("!I")
# A command's environment is the largest message sent; this is far above any real one.
MAX_MESSAGE_BYTES = 4 << 20
# The longest line a host reads from an executor; an event is cut well below it
# (``runtime.event_size``).
MAX_LINE_BYTES = 8 * 1024 * 1024


def send_message(sock: socket.socket, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
    body = json.dumps(message).encode()
    data = _HEADER.pack(len(body)) + body
    sent = socket.send_fds(sock, [data], list(fds)) if fds else 0
    sock.sendall(data[sent:])


def receive_message(sock: socket.socket, *, max_fds: int = 0) -> tuple[dict[str, Any], list[int]]:
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
    return message, list(fds)


def _read_exact(sock: socket.socket, size: int) -> bytes:
    parts = []
    while size:
        part = sock.recv(size)
        if not part:
            raise ConnectionError("the other side closed the connection")
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def event_line(event: Event) -> bytes:
    """The event's JSON line, capped in size (``runtime.event_size``). A chunk's line holds the
    chunk only: with the turn's text so far in each, a turn's lines would grow with the square of
    its length (12 MB for an answer of 2,000 tokens)."""
    from runtime.chunks import chunk_of, event_json
    from runtime.event_size import capped
    from runtime.events import AgentStreamChunkEvent

    if isinstance(event, AgentStreamChunkEvent):
        data = event_json(chunk_of(event), event.run_id)
    else:
        data = event.model_dump_json()
    return capped(data).encode() + b"\n"
