"""sse-starlette's event-stream response, compressed when the client accepts gzip or deflate.

A compressed stream is flushed (``Z_SYNC_FLUSH``) after every write, so the client can decode
each message as soon as it arrives: compression costs no latency. Successive SSE messages
repeat each other's framing almost byte for byte, so the compressor needs little history: a
4 KiB window and a small hash table compress them about as well as zlib's defaults, at ~35 KiB
per open stream instead of ~260 KiB. (Starlette's ``GZipMiddleware`` leaves event streams
alone, and buffering middleware would hold messages back; hence this.)
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
from sse_starlette import EventSourceResponse
from starlette.types import Message, Receive, Scope, Send

# (zlib's wbits for the format, the Content-Encoding name)
ENCODINGS = {"gzip": 16 + 12, "deflate": 12}
LEVEL = 6
MEM_LEVEL = 5


def negotiate(accept_encoding: str | None) -> str | None:
    """The encoding for an ``Accept-Encoding`` header: gzip, else deflate, else none."""
    if not accept_encoding:
        return None
    weights: dict[str, float] = {}
    for part in accept_encoding.split(","):
        name, _, params = part.partition(";")
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[name.strip().lower()] = weight
    for name in ENCODINGS:
        if weights.get(name, weights.get("*", 0.0)) > 0:
            return name
    return None


class Compressor:
    """One stream's compressor: each ``encode`` returns bytes the client decodes in full."""

    def __init__(self, encoding: str) -> None:
        self._zlib = zlib.compressobj(LEVEL, zlib.DEFLATED, ENCODINGS[encoding], MEM_LEVEL)

    def encode(self, data: bytes) -> bytes:
        return self._zlib.compress(data) + self._zlib.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._zlib.flush(zlib.Z_FINISH)


class EventStreamResponse(EventSourceResponse):
    """An ``EventSourceResponse`` (keep-alive pings, disconnect and send-timeout handling)
    whose body, pings included, is compressed with ``encoding`` when it is not None."""

    def __init__(
        self,
        source: AsyncIterator[bytes],
        *,
        encoding: str | None,
        headers: Mapping[str, str] | None = None,
        **options: Any,
    ) -> None:
        headers = {**(headers or {}), "Vary": "Accept-Encoding"}
        if encoding is not None:
            headers["Content-Encoding"] = encoding
        super().__init__(source, headers=headers, sep="\n", **options)
        self.encoding = encoding

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.encoding is None:
            await super().__call__(scope, receive, send)
            return
        compressor = Compressor(self.encoding)
        # Pings and messages are sent from different tasks; the compressed bytes must reach
        # the socket in the order they were compressed.
        order = anyio.Lock()

        async def compressed(message: Message) -> None:
            async with order:
                if message["type"] == "http.response.body":
                    body = compressor.encode(message.get("body", b""))
                    if not message.get("more_body", False):
                        body += compressor.finish()
                    message = {**message, "body": body}
                await send(message)

        await super().__call__(scope, receive, compressed)
