"""The Starlette application: the OpenAI-compatible endpoints and the ``/_tide/`` control API."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
import anyio.lowlevel
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from runtime.model_server.script import (
    Answer,
    ChatRequest,
    Reply,
    RequestRecord,
    Script,
    StreamRecord,
    plan_answer,
)
from runtime.model_server.text import last_user_text

DEFAULT_MODEL = "tide-scripted"
_FINGERPRINT = "fp_tide_scripted"
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


class ConnectionDropped(Exception):
    """Raised out of the application to make uvicorn close the connection mid-response."""


class ServerState:
    """What the application reads and records; shared with ``ScriptedModelServer``."""

    def __init__(self, script: Script | None, tokens_per_second: float | None) -> None:
        self.script = script.model_copy(deep=True) if script is not None else Script()
        self.tokens_per_second = tokens_per_second
        self.requests: list[RequestRecord] = []
        self.streams: list[StreamRecord] = []
        self.deliveries: set[anyio.CancelScope] = set()

    def end_deliveries(self) -> None:
        """Cut every answer still being sent, so that shutting down does not wait for them."""
        for scope in self.deliveries:
            scope.cancel()


def error_response(status: int, message: str, retry_after: float | None = None) -> JSONResponse:
    error_type = _ERROR_TYPES.get(
        status, "server_error" if status >= 500 else "invalid_request_error"
    )
    headers: dict[str, str] = {}
    if retry_after is not None or status == 429:
        seconds = 1.0 if retry_after is None else retry_after
        headers["retry-after"] = str(int(seconds)) if seconds.is_integer() else str(seconds)
    body = {"error": {"message": message, "type": error_type, "param": None, "code": None}}
    return JSONResponse(body, status_code=status, headers=headers)


class _ChatCompletions:
    """``POST /v1/chat/completions``, as a plain ASGI app so that it can watch for the client
    going away while it answers and cut the connection on purpose."""

    def __init__(self, state: ServerState) -> None:
        self._state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        received_at = time.monotonic()
        http_request = Request(scope, receive)
        try:
            body = await http_request.json()
            request = ChatRequest.model_validate(body)
        except (ValueError, ValidationError) as exc:
            await error_response(400, f"invalid request: {exc}")(scope, receive, send)
            return
        state = self._state
        index = len(state.requests)
        reply = state.script.take(request.model, last_user_text(request.messages))
        state.requests.append(
            RequestRecord(
                index=index,
                received_at=received_at,
                model=request.model,
                messages=request.messages,
                tools=request.tools,
                tool_choice=request.tool_choice,
                response_format=request.response_format,
                stream=request.stream,
                stream_options=request.stream_options,
                max_tokens=request.token_limit,
                scripted=reply is not None,
                body=body,
            )
        )
        if reply is not None and reply.status is not None:
            message = reply.error or f"scripted error {reply.status}"
            await error_response(reply.status, message, reply.retry_after)(scope, receive, send)
            return
        record = StreamRecord(request_index=index, stream=request.stream, received_at=received_at)
        state.streams.append(record)
        rate = state.tokens_per_second
        if reply is not None and reply.tokens_per_second is not None:
            rate = reply.tokens_per_second
        delivery = _Delivery(send, record, reply or Reply(), rate)
        answer = plan_answer(request, reply, index)
        with anyio.CancelScope() as cancel_scope:
            state.deliveries.add(cancel_scope)
            try:
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(_watch_disconnect, receive, record, tasks.cancel_scope)
                    try:
                        await delivery.run(_Rendering(request, answer, index, reply or Reply()))
                    except OSError:
                        # Servers on ASGI spec 2.4 report a gone client by failing the send.
                        _note_disconnect(record)
                    tasks.cancel_scope.cancel()
            finally:
                state.deliveries.discard(cancel_scope)
        if cancel_scope.cancel_called and not record.completed and not record.client_disconnected:
            record.dropped = True
        if record.dropped:
            raise ConnectionDropped(f"request {index}: connection closed on purpose")


async def _watch_disconnect(
    receive: Receive, record: StreamRecord, scope: anyio.CancelScope
) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    # uvicorn also reports a disconnect once the response is complete; only an early one counts.
    if not record.completed:
        _note_disconnect(record)
        scope.cancel()


def _note_disconnect(record: StreamRecord) -> None:
    record.client_disconnected = True
    record.disconnect_noticed_at = time.monotonic()


class _Rendering:
    """The bytes of an answer in the OpenAI wire format."""

    def __init__(self, request: ChatRequest, answer: Answer, index: int, reply: Reply) -> None:
        self.request = request
        self.answer = answer
        self.reply = reply
        self._id = f"chatcmpl-tide{index:06d}"
        self._created = int(time.time())

    def chunks(self) -> list[tuple[bytes, int]]:
        """Each SSE event with the number of tokens it carries."""
        answer = self.answer
        deltas: list[tuple[dict[str, Any], int]] = [({"content": p}, 1) for p in answer.content]
        for position, call in enumerate(answer.tool_calls):
            function = {"name": call.name, "arguments": ""}
            head = {"index": position, "id": call.id, "type": "function", "function": function}
            deltas.append(({"tool_calls": [head]}, 1))
            deltas.extend(
                ({"tool_calls": [{"index": position, "function": {"arguments": piece}}]}, 1)
                for piece in call.arguments
            )
        if not deltas:
            deltas.append(({"content": ""}, 0))
        deltas[0] = ({"role": "assistant", "content": None, **deltas[0][0]}, deltas[0][1])
        events = [
            (self._chunk(delta, answer.finish_reason if i == len(deltas) - 1 else None), tokens)
            for i, (delta, tokens) in enumerate(deltas)
        ]
        if self.request.include_usage and self.reply.send_usage:
            events.append(
                (
                    self._event(
                        {
                            **self._head("chat.completion.chunk"),
                            "choices": [],
                            "usage": answer.usage,
                        }
                    ),
                    0,
                )
            )
        events.append((b"data: [DONE]\n\n", 0))
        return events

    def malformed_chunk(self) -> bytes:
        return self._chunk({"content": "x"}, None)[:40] + b"\n\n"

    def completion(self) -> bytes:
        answer = self.answer
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(answer.content) if answer.content or not answer.tool_calls else None,
            "refusal": None,
        }
        if answer.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": "".join(c.arguments)},
                }
                for c in answer.tool_calls
            ]
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": answer.finish_reason,
        }
        body = {**self._head("chat.completion"), "choices": [choice]}
        if self.reply.send_usage:
            body["usage"] = answer.usage
        return json.dumps(body, ensure_ascii=False).encode()

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return self._event({**self._head("chat.completion.chunk"), "choices": [choice]})

    def _head(self, kind: str) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": kind,
            "created": self._created,
            "model": self.request.model,
            "system_fingerprint": _FINGERPRINT,
        }

    @staticmethod
    def _event(payload: dict[str, Any]) -> bytes:
        return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


class _Delivery:
    """Sends a rendered answer at the scripted pace, injecting the scripted faults."""

    def __init__(self, send: Send, record: StreamRecord, reply: Reply, rate: float | None) -> None:
        self._send = send
        self._record = record
        self._reply = reply
        self._rate = rate or None
        self._started = 0.0

    async def run(self, rendering: _Rendering) -> None:
        if rendering.request.stream and self._reply.stream:
            await self._stream(rendering)
        else:
            await self._whole(rendering)

    async def _stream(self, rendering: _Rendering) -> None:
        reply, record = self._reply, self._record
        await self._start(
            200,
            [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-cache"),
            ],
        )
        events = rendering.chunks()
        total = sum(tokens for _, tokens in events)
        stall_at = _at_most(reply.stall_after_tokens, total)
        malformed_at = _at_most(reply.malformed_after_tokens, total)
        drop_at = _at_most(reply.drop_after_tokens, total)
        await anyio.sleep(reply.stall_before_first_token)
        self._started = time.monotonic()
        for data, tokens in events:
            if record.tokens_sent == stall_at:
                stall_at = None
                await anyio.sleep(reply.stall_seconds)
                self._started = time.monotonic() - self._seconds_for(record.tokens_sent)
            if record.tokens_sent == malformed_at:
                malformed_at = None
                await self._body(rendering.malformed_chunk(), 0)
            if record.tokens_sent == drop_at:
                record.dropped = True
                return
            await self._pace(record.tokens_sent + tokens)
            await self._body(data, tokens)
        await self._finish()

    async def _whole(self, rendering: _Rendering) -> None:
        reply, record = self._reply, self._record
        body = rendering.completion()
        tokens = rendering.answer.usage["completion_tokens"]
        stall = reply.stall_seconds if reply.stall_after_tokens is not None else 0.0
        await anyio.sleep(reply.stall_before_first_token + stall + self._seconds_for(tokens))
        dropping = reply.drop_after_tokens is not None
        sent = body[: len(body) // 2] if reply.malformed_after_tokens is not None else body
        # A dropped answer announces its full length so that the client sees a short body.
        length = str(len(body if dropping else sent)).encode()
        await self._start(
            200, [(b"content-type", b"application/json"), (b"content-length", length)]
        )
        if dropping:
            await self._body(body[: len(body) // 2], 0)
            record.dropped = True
            return
        await self._body(sent, tokens)
        await self._finish()

    def _seconds_for(self, tokens: int) -> float:
        return tokens / self._rate if self._rate else 0.0

    async def _pace(self, tokens_after: int) -> None:
        if self._rate:
            due = self._started + self._seconds_for(tokens_after)
            await anyio.sleep(max(0.0, due - time.monotonic()))
        else:
            # Without a rate the loop still yields so that other streams and the disconnect
            # watcher get to run during long answers.
            await anyio.lowlevel.checkpoint()

    async def _start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        await self._send({"type": "http.response.start", "status": status, "headers": headers})

    async def _body(self, data: bytes, tokens: int) -> None:
        await self._send({"type": "http.response.body", "body": data, "more_body": True})
        record = self._record
        now = time.monotonic()
        if record.first_content_at is None:
            record.first_content_at = now
        record.last_byte_at = now
        record.chunks_sent += 1
        record.tokens_sent += tokens

    async def _finish(self) -> None:
        self._record.completed = True
        await self._send({"type": "http.response.body", "body": b"", "more_body": False})
        self._record.last_byte_at = time.monotonic()


def _at_most(threshold: int | None, total: int) -> int | None:
    # A fault scripted after more tokens than the answer has happens at its end.
    return None if threshold is None else min(threshold, total)


def create_app(state: ServerState) -> Starlette:
    async def models(request: Request) -> Response:
        names = sorted({DEFAULT_MODEL, *state.script.models})
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "tide"} for n in names]
        return JSONResponse({"object": "list", "data": data})

    async def put_script(request: Request) -> Response:
        try:
            script = Script.model_validate(await request.json())
        except (ValueError, ValidationError) as exc:
            return error_response(400, f"invalid script: {exc}")
        if request.query_params.get("append", "").lower() in {"1", "true", "yes"}:
            state.script.extend(script)
        else:
            state.script = script
        return JSONResponse(state.script.to_json())

    async def get_script(request: Request) -> Response:
        return JSONResponse(state.script.to_json())

    async def clear_script(request: Request) -> Response:
        state.script = Script()
        return JSONResponse(state.script.to_json())

    async def requests(request: Request) -> Response:
        return JSONResponse([r.model_dump(mode="json") for r in state.requests])

    async def streams(request: Request) -> Response:
        return JSONResponse([s.model_dump(mode="json") for s in state.streams])

    routes = [
        Route("/v1/chat/completions", _ChatCompletions(state), methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/_tide/script", put_script, methods=["POST"]),
        Route("/_tide/script", get_script, methods=["GET"]),
        Route("/_tide/script", clear_script, methods=["DELETE"]),
        Route("/_tide/requests", requests, methods=["GET"]),
        Route("/_tide/streams", streams, methods=["GET"]),
    ]
    return Starlette(routes=routes)
