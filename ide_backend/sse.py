"""``GET /api/runs/{id}/events``: a run's events as server-sent events.

Each message is ``id: <seq>``, ``event: <type>``, ``data: <event JSON>``. Chunk events leave
out ``accumulated_text`` and ``ts``: the client rebuilds a turn's text by offset.

Without ``Last-Event-ID`` (or ``?after=``) a watcher first gets the run so far, then every
event as it happens; with it, the stream resumes with exactly the events after that seq: from
memory while the server holds the run, else from the store. Whatever a watcher takes at once
(the run so far, or what arrived while its previous write was going out) is written as one
write in which consecutive chunks of a turn are one chunk (see ``relay.coalesce``): a watcher
that keeps up gets one message per event, one that falls behind catches up in fewer, larger
messages instead of lagging further. The stream ends after the terminal event; a watcher more
than ``max_backlog`` events behind gets ``event: lagged`` with ``{"resume_after": seq}`` and
the stream closes. The stream is compressed when the client accepts it (see
``event_stream``), and keep-alive comments hold an idle connection open.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Iterable

import anyio
from starlette.requests import Request
from starlette.routing import Route

from ide_backend.errors import ApiError
from ide_backend.event_stream import EventStreamResponse, negotiate
from ide_backend.relay import Chunk, Entry, Message, RunChannel, coalesce, is_terminal
from ide_backend.services import Services, services
from runtime.events import TERMINAL_TYPES

# How often a stream of a run that this server is not running looks for new events.
STORE_POLL_S = 0.5
# How long such a run may send nothing before the server asks whether its process is alive.
REAP_AFTER_S = 5.0
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


def encode_all(entries: Iterable[Entry], run_id: str) -> bytes:
    return b"".join(encode(message) for message in coalesce(entries, run_id))


def lagged(resume_after: int) -> bytes:
    return b'event: lagged\ndata: {"resume_after":%d}\n\n' % resume_after


def _after(request: Request) -> int | None:
    text = request.headers.get("last-event-id") or request.query_params.get("after")
    if text is None:
        return None
    if not text.strip().isdigit():
        raise ApiError(400, "Last-Event-ID and after must be a non-negative event seq")
    return int(text)


async def _live(channel: RunChannel, after: int | None) -> AsyncGenerator[bytes, None]:
    watcher = channel.watch(after or 0)
    try:
        while True:
            if watcher.lagged:
                yield lagged(watcher.delivered)
                return
            batch = channel.take(watcher)
            if batch:
                yield encode_all(batch, channel.run_id)
                if is_terminal(batch[-1]):
                    return
            elif channel.finished:
                return
            else:
                await watcher.wait()
    finally:
        channel.unwatch(watcher)


async def _stored(app: Services, run_id: str, after: int | None) -> AsyncGenerator[bytes, None]:
    """A run this server does not hold: what the store has, then what arrives there (a run
    that ``tide run`` records right now, for instance)."""
    after = after or 0
    quiet_s = 0.0
    while True:
        events = await app.store.read_events(run_id, after=after)
        if events:
            yield encode_all(events, run_id)
            if events[-1].type in TERMINAL_TYPES:
                return
            after = events[-1].seq
            quiet_s = 0.0
            continue
        if quiet_s >= REAP_AFTER_S:
            # The process recording it may have died: then the store ends the run, and so this.
            await app.store.reap_abandoned()
            quiet_s = 0.0
        record = await app.store.get_run(run_id)
        if record is None or record.finished:
            return
        await anyio.sleep(STORE_POLL_S)
        quiet_s += STORE_POLL_S


async def run_events(request: Request) -> EventStreamResponse:
    app = services(request)
    run_id = request.path_params["run_id"]
    after = _after(request)
    live = app.manager.get(run_id)
    stream: AsyncGenerator[bytes, None]
    if live is not None:
        stream = _live(live.channel, after)
    elif await app.store.get_run(run_id) is not None:
        stream = _stored(app, run_id, after)
    else:
        raise ApiError(404, f"no run '{run_id}'")
    return EventStreamResponse(
        stream,
        encoding=negotiate(request.headers.get("accept-encoding")),
        ping=app.settings.keepalive_s,
        send_timeout=SEND_TIMEOUT_S,
        headers={"Cache-Control": "no-store"},
    )


routes = [Route("/api/runs/{run_id}/events", run_events, methods=["GET"])]
