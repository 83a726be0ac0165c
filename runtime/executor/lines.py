"""``follow_lines``: an executor's event lines, each handed on in the event loop's callback that
received it.

Read through a stream, every line would wake the reading task, which then takes its turn of
the event loop after whatever else is ready: on a busy host, that turn is most of the time a
streamed chunk spends there. Here the socket's transport calls the protocol as data arrives,
and each complete line goes to ``on_line`` there and then. Tide runs on asyncio (its model
libraries need it), whose transports this uses.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
from collections.abc import Awaitable, Callable
from typing import cast

import anyio

try:
    import sniffio as _sniffio
except ImportError:  # anyio then finds asyncio by its running loop, callbacks included
    _sniffio = None  # type: ignore[assignment]

# What a line's handler returns: whether it was the last line, or an awaitable that says so
# once it is done (the next lines wait for it).
LineHandler = Callable[[bytes], bool | Awaitable[bool]]


class LineTooLong(Exception):
    """A line longer than allowed arrived."""


async def follow_lines(sock: socket.socket, on_line: LineHandler, *, max_line: int) -> bool:
    """Hand each line that arrives on ``sock`` (a connected, non-blocking socket) to ``on_line``
    until it says one was the last (True) or the other end closes (False). Raises
    ``LineTooLong``, or what ``on_line`` raised. ``sock`` is closed on return."""
    protocol = _LineProtocol(on_line, max_line)
    # ``on_line`` may call anyio, which asks sniffio for the library running it; sniffio looks
    # for the current task, which a transport's callback has none of. The callbacks run in this
    # task's context, which says it outright.
    told = _sniffio.current_async_library_cvar.set("asyncio") if _sniffio else None
    try:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.connect_accepted_socket(lambda: protocol, sock)
        try:
            return await protocol.follow()
        finally:
            transport.close()
    finally:
        if told is not None:
            _sniffio.current_async_library_cvar.reset(told)


class _LineProtocol(asyncio.Protocol):
    def __init__(self, on_line: LineHandler, max_line: int) -> None:
        self._on_line = on_line
        self._max_line = max_line
        self._buffer = bytearray()
        # How much of the buffer is known to hold no line end (a long line comes in pieces).
        self._searched = 0
        self._transport: asyncio.Transport | None = None
        # What ``on_line`` returned to be awaited; reading is paused until it is.
        self._pending: Awaitable[bool] | None = None
        self._last = False
        self._closed = False
        self._error: BaseException | None = None
        self._wake = anyio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream socket's transport (uvloop's does not derive from asyncio's classes).
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._take_lines()

    def eof_received(self) -> bool:
        self._closed = True
        self._wake.set()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._wake.set()

    def _take_lines(self) -> None:
        """Hand on the complete lines buffered, until one must be awaited or was the last."""
        start = 0
        searched = self._searched
        try:
            while self._pending is None and not self._last and self._error is None:
                end = self._buffer.find(b"\n", max(start, searched))
                if end < 0:
                    searched = len(self._buffer)
                    if len(self._buffer) - start > self._max_line:
                        raise LineTooLong(f"a line longer than {self._max_line} bytes")
                    break
                outcome = self._on_line(bytes(self._buffer[start : end + 1]))
                start = end + 1
                if isinstance(outcome, bool):
                    self._last = outcome
                else:
                    self._pending = outcome
        except Exception as exc:
            self._error = exc
        del self._buffer[:start]
        self._searched = max(searched - start, 0)
        if self._transport is not None and self._stopped_reading():
            self._transport.pause_reading()
            self._wake.set()

    def _stopped_reading(self) -> bool:
        """Whether no more lines are to be handed on for now (one to await, the last, a failure)."""
        return self._pending is not None or self._last or self._error is not None

    async def follow(self) -> bool:
        try:
            while True:
                # The state is read after each wake-up's event is renewed: none is missed.
                if self._error is not None:
                    raise self._error
                if self._pending is not None:
                    self._last = await self._pending
                    self._pending = None
                    self._take_lines()
                    if self._transport is not None and not self._stopped_reading():
                        self._transport.resume_reading()
                    continue
                if self._last:
                    return True
                if self._closed:
                    return False
                await self._wake.wait()
                self._wake = anyio.Event()
        finally:
            if inspect.iscoroutine(self._pending):
                self._pending.close()  # stopped before it was awaited
