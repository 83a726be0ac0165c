"""The AI SDK's UI message stream protocol over the runs API.

``POST /api/runs/ui-stream`` takes the body of ``POST /api/runs`` (``path`` or ``source``,
``inputs``, ``model``, ``mock``) or the body ``useChat`` sends (``messages``, and the
transport's own ``body`` fields beside them): the text of the last user message becomes the
procedure's first string input. It starts the run and answers with the run as a UI message
stream (see ``ui_messages``); the run id is the message's id and the ``X-Tide-Run-Id`` header.
A client that goes away before the end (``useChat``'s stop) cancels the run, unless the body
says ``"detach": true``: then the run goes on for a later ``GET``.
``GET /api/runs/{id}/ui-stream`` streams an existing run the same way, from the start or after
``Last-Event-ID`` (or ``?after=``); its readers come and go without affecting the run, which
``POST /api/runs/{id}/cancel`` stops.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ide_backend.bodies import event_seq, optional, read_json
from ide_backend.errors import ApiError
from ide_backend.event_stream import EventStreamResponse, negotiate
from ide_backend.relay import RunChannel
from ide_backend.runs import LiveRun
from ide_backend.runs_api import RunRequest, read_run_request, submit
from ide_backend.services import Services, services
from ide_backend.sse import SEND_TIMEOUT_S, stored_batches
from ide_backend.ui_messages import UI_STREAM_HEADERS, UIMessageEncoder, frame
from runtime.source import ProcedureSource


def last_user_text(messages: Any) -> str:
    """The text of the last user message of a ``useChat`` body's ``messages`` (its text parts,
    or the older ``content`` string)."""
    if not isinstance(messages, list):
        raise ApiError(422, "'messages' must be a list of messages")
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        parts = message.get("parts")
        if isinstance(parts, list):
            texts = [
                part["text"]
                for part in parts
                if isinstance(part, dict)
                and part.get("type") == "text"
                and isinstance(part.get("text"), str)
            ]
            if texts:
                return "\n".join(texts)
        content = message.get("content")
        if isinstance(content, str):
            return content
        raise ApiError(422, "the last user message has no text")
    raise ApiError(422, "'messages' has no user message")


def first_string_input(source: ProcedureSource, names: list[str]) -> str | None:
    """The string input declared first in the file (a Lua table keeps no order of its own)."""

    def where(name: str) -> tuple[int, str]:
        found = re.search(rf"\b{re.escape(name)}\s*=\s*field\.string\b", source.text)
        return (found.start() if found else len(source.text), name)

    return min(names, key=where) if names else None


async def _message_input(ide: Services, source: ProcedureSource) -> str:
    report = await ide.validator.validate(source, ide.settings.runtime.inspect_timeout_s)
    procedure = report["procedure"]
    if procedure is None:
        # Its declarations could not be read: the first error says why.
        error = next(d for d in report["diagnostics"] if d["severity"] == "error")
        hint = f" (hint: {error['hint']})" if error.get("hint") else ""
        message = f"{source.display_name}:{error['line']}: {error['message']}{hint}"
        raise ApiError(400, message, "procedure")
    names = [i["name"] for i in procedure["inputs"] if i["type"] == "string"]
    name = first_string_input(source, names)
    if name is None:
        raise ApiError(
            422,
            f"{source.display_name} declares no string input for the message to go to",
            "invalid_inputs",
        )
    return name


async def _live(channel: RunChannel, after: int) -> AsyncGenerator[bytes, None]:
    # From the start, so that the encoder knows which parts were open at ``after``.
    encoder = UIMessageEncoder()
    watcher = channel.watch(0)
    try:
        while True:
            if watcher.lagged:
                text = "this stream fell behind the run; reconnect with Last-Event-ID to go on"
                yield frame([{"type": "error", "errorText": text}], watcher.delivered)
                return
            batch = await channel.take_stored(watcher) if watcher.behind else channel.take(watcher)
            if batch:
                data = encoder.encode(batch, after)
                if data:
                    yield data
                if encoder.closed:
                    return
                continue
            if channel.finished:
                return
            await watcher.wait()
    finally:
        channel.unwatch(watcher)


async def _stored(ide: Services, run_id: str, after: int) -> AsyncGenerator[bytes, None]:
    """A run this server does not hold: what the store has, then what arrives there."""
    # From the start, so that the encoder knows which parts were open at ``after``.
    encoder = UIMessageEncoder()
    async for events in stored_batches(ide, run_id, 0):
        data = encoder.encode(events, after)
        if data:
            yield data
        if encoder.closed:
            return


def _response(
    request: Request, ide: Services, run_id: str, stream: AsyncGenerator[bytes, None]
) -> EventStreamResponse:
    return EventStreamResponse(
        stream,
        encoding=negotiate(request.headers.get("accept-encoding")),
        ping=ide.settings.keepalive_s,
        send_timeout=SEND_TIMEOUT_S,
        headers={**UI_STREAM_HEADERS, "x-tide-run-id": run_id},
    )


async def start_ui_stream(request: Request) -> EventStreamResponse:
    ide = services(request)
    data = await read_json(request, ide.settings.max_body_bytes)
    asked: RunRequest = await read_run_request(ide, data)
    if "messages" in data:
        text = last_user_text(data["messages"])
        name = await _message_input(ide, asked.source)
        asked.inputs = {**asked.inputs, name: text}
    detach = bool(optional(data, "detach", bool))
    live = await submit(ide, asked)
    stream = _live(live.channel, 0)
    return _response(request, ide, live.id, stream if detach else _owned(ide, live, stream))


async def _owned(
    ide: Services, live: LiveRun, stream: AsyncGenerator[bytes, None]
) -> AsyncGenerator[bytes, None]:
    """``stream``, and the run cancelled if its client goes away before the end (as a model
    call in an AI SDK server ends when ``useChat``'s stop button aborts the request)."""
    try:
        async for data in stream:
            yield data
    finally:
        if not live.record.finished:
            ide.manager.cancel(live.id)


def _after(request: Request) -> int:
    return event_seq(request) or 0


async def run_ui_stream(request: Request) -> EventStreamResponse:
    ide = services(request)
    run_id = request.path_params["run_id"]
    after = _after(request)
    live = ide.manager.get(run_id)
    if live is not None:
        return _response(request, ide, run_id, _live(live.channel, after))
    if await ide.store.get_run(run_id) is None:
        raise ApiError(404, f"no run '{run_id}'")
    return _response(request, ide, run_id, _stored(ide, run_id, after))


routes = [
    Route("/api/runs/ui-stream", start_ui_stream, methods=["POST"]),
    Route("/api/runs/{run_id}/ui-stream", run_ui_stream, methods=["GET"]),
]
