"""Listening TCP sockets for Tide's HTTP servers (the IDE, the scripted model server)."""

from __future__ import annotations

import socket

# The default backlog (128) overflows when hundreds of clients connect at once.
BACKLOG = 2048


def tcp_listener(host: str, port: int, *, backlog: int = BACKLOG) -> socket.socket:
    """A socket listening on ``host``:``port`` (``0``: a free port; ``[::1]`` or ``::1`` for
    IPv6). Bound before the server starts, so a busy port is an ``OSError`` for the caller."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host.strip("[]"), port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    # The protocol must be TCP explicitly (socket.create_server leaves it 0): asyncio sets
    # TCP_NODELAY on accepted sockets only then, and without it every response after the first
    # on a kept-alive connection waits about 40 ms for the client's delayed ACK.
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(backlog)
    except OSError:
        listener.close()
        raise
    return listener
