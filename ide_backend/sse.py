"""``GET /api/runs/{id}/events``: a run's events as server-sent events.

Each message is ``id: <seq>``, ``event: <type>``, ``data: <event JSON>``. Chunk events leave
out ``accumulated_text`` and ``ts``: the client rebuilds a turn's text by offset.

Without ``Last-Event-ID`` (or ``?after=``) a watcher first gets a snapshot of the run so far,
in which consecutive chunks of a turn are one chunk (see ``relay.coalesce``), then every event
as it happens. With it, the stream resumes with exactly the events after that seq: from memory
while the server holds the run, else from the store. The stream ends
after the terminal event; a watcher more than ``max_backlog`` events behind gets
``event: lagged`` with ``{"resume_after": seq}`` and the stream closes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable

import anyio
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.routing import Route

from ide_backend.errors import ApiError
from ide_backend.relay import Chunk, Message, RunChannel, coalesce
from ide_backend.services import Services, services
from runtime.events import TERMINAL_TYPES, AgentStreamChunkEvent, Event

# How often a stream of a run that this server is not running looks for new events.
STORE_POLL_S = 0.5
# A watcher whose connection accepts nothing for this long is dropped.
SEND_TIMEOUT_S = 30.0


def encode(message: Message) -> bytes:
    if isinstance(message, Chunk):
        run_id = json.dumps(message.run_id)
        agent = json.dumps(message.agent, ensure_ascii=False)
        text = json.dumps(message.text, ensure_ascii=False)
        data = (
            f'{{"type":"agent_stream_chunk","run_id":{run_id},"seq":{message.seq},'
            f'"agent":{agent},"turn":{message.turn},"chunk_text":{text},"offset":{message.offset}}}'
        )
        return b"id: %d\nevent: agent_stream_chunk\ndata: %s\n\n" % (message.seq, data.encode())
    data = message.model_dump_json()
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (message.seq, message.type.encode(), data.encode())


def encode_all(events: Iterable[Event], *, snapshot: bool) -> bytes:
    messages: Iterable[Message] = coalesce(events) if snapshot else map(as_message, events)
    return b"".join(encode(message) for message in messages)


def as_message(event: Event) -> Message:
    if isinstance(event, AgentStreamChunkEvent):
        return Chunk(
            event.run_id, event.seq, event.agent, event.turn, event.offset, event.chunk_text
        )
    return event


def lagged(resume_after: int) -> bytes:
    return b'event: lagged\ndata: {"resume_after":%d}\n\n' % resume_after


def _after(request: Request) -> int | None:
    text = request.headers.get("last-event-id") or request.query_params.get("after")
    if text is None:
        return None
    if not text.strip().isdigit():
        raise ApiError(400, "Last-Event-ID and after must be a non-negative event seq")
    return int(text)


async def _live(channel: RunChannel, after: int | None) -> AsyncIterator[bytes]:
    watcher = channel.watch(after or 0)
    try:
        # A watcher that says where it is gets exactly the events after that; a new one first
        # gets what happened so far as a snapshot, with each turn's chunks merged.
        snapshot = after is None
        while True:
            if watcher.lagged:
                yield lagged(watcher.delivered)
                return
            batch = channel.take(watcher)
            if batch:
                yield encode_all(batch, snapshot=snapshot)
                if batch[-1].type in TERMINAL_TYPES:
                    return
            elif channel.finished:
                return
            else:
                await watcher.wait()
            snapshot = False
    finally:
        channel.unwatch(watcher)


async def _stored(app: Services, run_id: str, after: int | None) -> AsyncIterator[bytes]:
    """A run this server does not hold: what the store has, then what arrives there (a run
    that ``tide run`` records right now, for instance)."""
    snapshot = after is None
    after = after or 0
    while True:
        events = await app.store.read_events(run_id, after=after)
        if events:
            yield encode_all(events, snapshot=snapshot)
            snapshot = False
            if events[-1].type in TERMINAL_TYPES:
                return
            after = events[-1].seq
            continue
        record = await app.store.get_run(run_id)
        if record is None or record.finished:
            return
        await anyio.sleep(STORE_POLL_S)


async def run_events(request: Request) -> EventSourceResponse:
    app = services(request)
    run_id = request.path_params["run_id"]
    after = _after(request)
    live = app.manager.get(run_id)
    stream: AsyncIterator[bytes]
    if live is not None:
        stream = _live(live.channel, after)
    elif await app.store.get_run(run_id) is not None:
        stream = _stored(app, run_id, after)
    else:
        raise ApiError(404, f"no run '{run_id}'")
    return EventSourceResponse(
        stream,
        ping=app.settings.keepalive_s,
        sep="\n",
        send_timeout=SEND_TIMEOUT_S,
        headers={"Cache-Control": "no-store"},
    )


routes = [Route("/api/runs/{run_id}/events", run_events, methods=["GET"])]
