"""``GET /api/runs/{id}/events``: a run's events as server-sent events.

Each message is ``id: <seq>``, ``event: <type>``, ``data: <event JSON>``. Chunk events leave
out ``accumulated_text`` and ``ts``: the client rebuilds a turn's text by offset.

Without ``Last-Event-ID`` (or ``?after=``) a watcher first gets the run so far, then every
event as it happens; with it, the stream resumes with exactly the events after that seq: from
memory while the server holds them, else from the store (a finished run's events are in the
store only). Whatever a watcher takes at once
(the run so far, or what arrived while its previous write was going out) is written as one
write in which consecutive chunks of a turn are one chunk (see ``runtime.chunks.merge``): a watcher
that keeps up gets one message per event, one that falls behind catches up in fewer, larger
messages instead of lagging further.

``?coalesce_ms=N`` (a whole number from 0 to 1000; default 0, the above) asks for fewer, larger
chunk messages from a live run: a message per model token costs ~20 bytes of framing even
compressed, several times its text. Chunks the watcher takes are held until N ms after the
first of them arrived, then written with whatever arrived meanwhile, merged as above. Any other
event (a turn starting or ending, a tool call, a cost, the end of the run, ...) is written as
soon as it arrives, with the chunks held before it: only chunks wait, at most N ms. Ids are
still seqs, so resuming is exact. What a watcher starts with (the run so far, or the store's
events for a run this server does not hold) is written at once, already merged.

The stream ends after the terminal event; a watcher more than ``max_backlog`` events behind
gets (after any chunks it held) ``event: lagged`` with ``{"resume_after": seq}`` and the
stream closes. The stream is compressed when the client accepts it (see ``event_stream``),
and keep-alive comments hold an idle connection open.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence

import anyio
from starlette.requests import Request
from starlette.routing import Route

from ide_backend.bodies import event_seq, whole_number
from ide_backend.errors import ApiError
from ide_backend.event_stream import EventStreamResponse, negotiate
from ide_backend.relay import RunChannel, is_terminal
from ide_backend.services import Services, services
from runtime.chunks import Entry, event_json, is_chunk, merge
from runtime.events import TERMINAL_TYPES, Event

# How often a stream of a run that this server is not running looks for new events.
STORE_POLL_S = 0.5
# How long such a run may send nothing before the server asks whether its process is alive.
REAP_AFTER_S = 5.0
# A watcher whose connection accepts nothing for this long is dropped.
SEND_TIMEOUT_S = 30.0
# The longest window ``?coalesce_ms=`` may ask for.
MAX_COALESCE_MS = 1000


def encode(message: Entry, run_id: str) -> bytes:
    if isinstance(message, tuple):
        data = event_json(message, run_id).encode()
        return b"id: %d\nevent: agent_stream_chunk\ndata: %s\n\n" % (message[0], data)
    data = message.model_dump_json().encode()
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (message.seq, message.type.encode(), data)


def encode_all(entries: Iterable[Entry], run_id: str) -> bytes:
    return b"".join([encode(message, run_id) for message in merge(entries)])


def lagged(resume_after: int) -> bytes:
    return b'event: lagged\ndata: {"resume_after":%d}\n\n' % resume_after


def _after(request: Request) -> int | None:
    return event_seq(request, None)


def _window_s(request: Request) -> float:
    text = request.query_params.get("coalesce_ms")
    if text is None:
        return 0.0
    window = whole_number(text)
    if window is None or window > MAX_COALESCE_MS:
        raise ApiError(400, f"coalesce_ms must be a whole number from 0 to {MAX_COALESCE_MS}")
    return window / 1000


async def _live(
    channel: RunChannel, after: int | None, window_s: float = 0.0
) -> AsyncGenerator[bytes, None]:
    """The run's events from ``after`` on. With ``window_s``, chunks taken live are held until
    ``window_s`` after the first of them arrived, then go out with whatever came meanwhile;
    any other event sends them at once, with it."""
    watcher = channel.watch(after or 0)
    held: Sequence[Entry] = ()
    due: float | None = None
    try:
        while True:
            if watcher.lagged:
                yield encode_all(held, channel.run_id) + lagged(watcher.delivered)
                return
            arrived = watcher.since
            batch = await channel.take_stored(watcher) if watcher.behind else channel.take(watcher)
            if batch:
                if not held:
                    # Counted from the first one's arrival. The events a watcher starts with
                    # (no arrival noted) are the run so far: not held.
                    due = arrived + window_s if window_s and arrived is not None else None
                if due is not None and not all(is_chunk(entry) for entry in batch):
                    due = None
                held = [*held, *batch] if held else batch
            elif not held:
                if channel.finished:
                    return
                await watcher.wait()
                continue
            wait_s = 0.0 if due is None else due - time.monotonic()
            if wait_s > 0:
                watcher.holding = True
                with anyio.move_on_after(wait_s):
                    await watcher.wait()
                watcher.holding = False
                continue
            yield encode_all(held, channel.run_id)
            if is_terminal(held[-1]):
                return
            held = ()
    finally:
        channel.unwatch(watcher)


async def stored_batches(ide: Services, run_id: str, after: int) -> AsyncIterator[list[Event]]:
    """A run this server does not hold: what the store has after ``after``, then what arrives
    there (a run that ``tide run`` records right now, for instance), in batches, to the end."""
    quiet_s = 0.0
    while True:
        events = await ide.store.read_events(run_id, after=after)
        if events:
            yield events
            if events[-1].type in TERMINAL_TYPES:
                return
            after = events[-1].seq
            quiet_s = 0.0
            continue
        if quiet_s >= REAP_AFTER_S:
            # The process recording it may have died: then the store writes the run's end,
            # which this sends next.
            quiet_s = 0.0
            if run_id in await ide.store.reap_abandoned():
                continue
        record = await ide.store.get_run(run_id)
        if record is None or record.finished:
            return
        await anyio.sleep(STORE_POLL_S)
        quiet_s += STORE_POLL_S


async def _stored(ide: Services, run_id: str, after: int | None) -> AsyncGenerator[bytes, None]:
    async for events in stored_batches(ide, run_id, after or 0):
        yield encode_all(events, run_id)


async def run_events(request: Request) -> EventStreamResponse:
    ide = services(request)
    run_id = request.path_params["run_id"]
    after = _after(request)
    window_s = _window_s(request)
    live = ide.manager.get(run_id)
    stream: AsyncGenerator[bytes, None]
    if live is not None:
        stream = _live(live.channel, after, window_s)
    elif await ide.store.get_run(run_id) is not None:
        stream = _stored(ide, run_id, after)
    else:
        raise ApiError(404, f"no run '{run_id}'")
    return EventStreamResponse(
        stream,
        encoding=negotiate(request.headers.get("accept-encoding")),
        ping=ide.settings.keepalive_s,
        send_timeout=SEND_TIMEOUT_S,
        headers={"Cache-Control": "no-store"},
    )


routes = [Route("/api/runs/{run_id}/events", run_events, methods=["GET"])]
