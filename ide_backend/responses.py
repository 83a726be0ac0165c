"""Streaming a run from an endpoint of your own: ``sse_response`` and
``ui_message_stream_response`` turn a ``RunStream`` (``runtime.stream(...)``) into a response.

    async def ask(request):
        stream = app.state.runtime.stream("procedures/story.tac", await request.json())
        streams[stream.run_id] = stream
        return sse_response(stream, request)

``sse_response`` writes what the IDE's ``GET /api/runs/{id}/events`` writes: each event as
``id: <seq>``, ``event: <type>``, ``data: <JSON>`` (chunks without ``accumulated_text``; what a
reader takes at once, consecutive chunks of a turn merged), keep-alive comments while the run is
quiet, gzip when the client accepts it, and the end after the terminal event. A client that
reconnects with ``Last-Event-ID`` (or ``?after=``) to an endpoint that answers with the same
stream gets exactly the events after that one. ``ui_message_stream_response`` writes the same
run in the AI SDK's UI message stream protocol (see ``ui_messages``). The run belongs to the
runtime, not to the connection: a client that goes away leaves it running.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

from starlette.requests import Request

from ide_backend.bodies import event_seq
from ide_backend.event_stream import EventStreamResponse, negotiate
from ide_backend.sse import SEND_TIMEOUT_S, encode_all
from ide_backend.ui_messages import UI_STREAM_HEADERS, UIMessageEncoder, frame
from runtime.errors import TideError
from runtime.streaming import RunStream

KEEPALIVE_S = 15.0


def resume_after(request: Request | None) -> int:
    """The seq a reconnecting client last got: ``Last-Event-ID``, or ``?after=``; 0 for none."""
    if request is None:
        return 0
    return event_seq(request) or 0


def _respond(
    body: AsyncGenerator[bytes, None],
    request: Request | None,
    keepalive_s: float,
    headers: dict[str, str],
) -> EventStreamResponse:
    accepted = request.headers.get("accept-encoding") if request is not None else None
    return EventStreamResponse(
        body,
        encoding=negotiate(accepted),
        ping=keepalive_s,
        send_timeout=SEND_TIMEOUT_S,
        headers=headers,
    )


def sse_response(
    stream: RunStream, request: Request | None = None, *, keepalive_s: float = KEEPALIVE_S
) -> EventStreamResponse:
    """``stream``'s events as server-sent events, after the seq ``request`` resumes from.

    A mistake that kept the run from starting is one ``event: error`` message whose data is
    ``{"kind", "message", "file", "line", "hint"}``."""
    after = resume_after(request)

    async def body() -> AsyncGenerator[bytes, None]:
        try:
            async for batch in stream.batches(after):
                yield encode_all(batch, stream.run_id)
        except TideError as exc:
            data = json.dumps(exc.info().model_dump(mode="json"), ensure_ascii=False)
            yield f"event: error\ndata: {data}\n\n".encode()

    return _respond(body(), request, keepalive_s, {"x-tide-run-id": stream.run_id})


def ui_message_stream_response(
    stream: RunStream, request: Request | None = None, *, keepalive_s: float = KEEPALIVE_S
) -> EventStreamResponse:
    """``stream`` in the AI SDK's UI message stream protocol, for ``useChat``. A mistake that
    kept the run from starting is an ``error`` chunk."""
    after = resume_after(request)

    async def body() -> AsyncGenerator[bytes, None]:
        # From the start, so that the encoder knows which parts were open at ``after``.
        encoder = UIMessageEncoder()
        try:
            async for batch in stream.batches():
                data = encoder.encode(batch, after)
                if data:
                    yield data
        except TideError as exc:
            yield frame([{"type": "error", "errorText": _described(exc)}], 0)

    headers = {**UI_STREAM_HEADERS, "x-tide-run-id": stream.run_id}
    return _respond(body(), request, keepalive_s, headers)


def _described(exc: TideError) -> str:
    where = exc.info().location()
    return f"{where}: {exc.message}" if where else exc.message
