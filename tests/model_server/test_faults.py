"""Faults on demand, pacing, and noticing a client that goes away."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
import httpx
import pytest

from runtime.model_server import Reply, ScriptedModelServer, StreamRecord

from .conftest import Chat

pytestmark = pytest.mark.anyio

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}


async def timed_events(http: httpx.AsyncClient, **body: Any) -> list[tuple[float, str]]:
    """Every SSE data line with the client's monotonic time of arrival."""
    events = []
    async with http.stream("POST", "/v1/chat/completions", json={**BODY, **body}) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                events.append((time.monotonic(), line.removeprefix("data: ")))
    return events


async def wait_for_disconnect(record: StreamRecord, limit: float = 0.5) -> float:
    deadline = time.monotonic() + limit
    while record.disconnect_noticed_at is None and time.monotonic() < deadline:
        await anyio.sleep(0.002)
    assert record.client_disconnected
    assert record.disconnect_noticed_at is not None
    return record.disconnect_noticed_at


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (500, "server_error"),
        (503, "server_error"),
    ],
)
async def test_scripted_http_errors(
    server: ScriptedModelServer, chat: Chat, status: int, kind: str
) -> None:
    server.append(Reply(status=status, error="scripted trouble"), Reply(status=status))
    streamed, whole = await chat(), await chat(stream=False)
    for exchange in (streamed, whole):
        assert exchange.status == status
        assert "retry-after" not in exchange.headers
        error = exchange.json()["error"]
        assert error["type"] == kind
        assert set(error) == {"message", "type", "param", "code"}
    assert streamed.json()["error"]["message"] == "scripted trouble"
    assert whole.json()["error"]["message"] == f"scripted error {status}"
    assert len(server.requests) == 2
    assert server.streams == []


async def test_rate_limit_sends_retry_after(server: ScriptedModelServer, chat: Chat) -> None:
    server.append(
        Reply(status=429), Reply(status=429, retry_after=7), Reply(status=429, retry_after=0.5)
    )
    assert [(await chat()).headers["retry-after"] for _ in range(3)] == ["1", "7", "0.5"]
    assert (await chat()).status == 200


async def test_stall_before_first_token(
    server: ScriptedModelServer, http: httpx.AsyncClient
) -> None:
    server.append(Reply(text="late answer", stall_before_first_token=0.3))
    started = time.monotonic()
    events = await timed_events(http)
    assert events[0][0] - started >= 0.3
    record = server.streams[0]
    assert record.first_content_at is not None
    assert record.first_content_at - record.received_at >= 0.3


async def test_stall_after_tokens(server: ScriptedModelServer, http: httpx.AsyncClient) -> None:
    server.append(Reply(text="one two three four", stall_after_tokens=2, stall_seconds=0.3))
    started = time.monotonic()
    events = await timed_events(http)
    assert json.loads(events[2][1])["choices"][0]["delta"]["content"] == " three"
    assert events[2][0] - started >= 0.3


async def test_stall_in_a_non_streamed_answer(server: ScriptedModelServer, chat: Chat) -> None:
    server.append(
        Reply(text="slow", stall_before_first_token=0.1, stall_after_tokens=0, stall_seconds=0.1)
    )
    started = time.monotonic()
    assert (await chat(stream=False)).json()["choices"][0]["message"]["content"] == "slow"
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize("after", [0, 3, 1000])
async def test_drop_closes_the_connection_mid_stream(
    server: ScriptedModelServer, http: httpx.AsyncClient, after: int
) -> None:
    server.append(Reply(text="a b c d e f", drop_after_tokens=after))
    received: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
        async with http.stream("POST", "/v1/chat/completions", json=BODY) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line:
                    received.append(line)
    assert len(received) == min(after, 6)
    assert "data: [DONE]" not in received
    record = server.streams[0]
    assert record.dropped and not record.completed and not record.client_disconnected
    assert record.tokens_sent == min(after, 6)


async def test_drop_in_a_non_streamed_answer(server: ScriptedModelServer, chat: Chat) -> None:
    server.append(Reply(text="whole answer", drop_after_tokens=1))
    with pytest.raises(httpx.RemoteProtocolError):
        await chat(stream=False)
    assert server.streams[0].dropped


async def test_the_server_keeps_serving_after_a_drop(
    server: ScriptedModelServer, chat: Chat
) -> None:
    server.append(Reply(text="x y", drop_after_tokens=1), Reply(text="fine"))
    with pytest.raises(httpx.RemoteProtocolError):
        await chat()
    assert (await chat()).text == "fine"


async def test_malformed_chunk(server: ScriptedModelServer, chat: Chat) -> None:
    server.append(Reply(text="a b c d", malformed_after_tokens=2))
    exchange = await chat()
    assert exchange.events[-1] == "[DONE]"
    bad = []
    for position, event in enumerate(exchange.events[:-1]):
        try:
            json.loads(event)
        except ValueError:
            bad.append(position)
    assert bad == [2]


async def test_malformed_non_streamed_answer(server: ScriptedModelServer, chat: Chat) -> None:
    server.append(Reply(text="a b c d", malformed_after_tokens=0))
    exchange = await chat(stream=False)
    assert exchange.status == 200
    with pytest.raises(ValueError):
        exchange.json()


async def test_server_wide_rate(server: ScriptedModelServer, http: httpx.AsyncClient) -> None:
    server.tokens_per_second = 100
    server.append(Reply(tokens=20))
    started = time.monotonic()
    events = await timed_events(http)
    assert events[-1][0] - started >= 0.2
    record = server.streams[0]
    assert record.first_content_at is not None and record.last_byte_at is not None
    # Each token is due 1/rate after the previous one, the first 1/rate after the request.
    assert record.first_content_at - record.received_at >= 0.01
    assert record.last_byte_at - record.received_at >= 0.2


async def test_rate_per_reply_overrides_the_server(
    server: ScriptedModelServer, http: httpx.AsyncClient
) -> None:
    server.tokens_per_second = 1
    server.append(Reply(tokens=10, tokens_per_second=0), Reply(tokens=10, tokens_per_second=50))
    await timed_events(http)
    started = time.monotonic()
    await timed_events(http)
    assert time.monotonic() - started >= 0.2
    fast, _ = server.streams
    assert fast.last_byte_at is not None and fast.first_content_at is not None
    # At the server's own rate the first answer would take ten seconds.
    assert fast.last_byte_at - fast.first_content_at < 5


async def test_client_disconnect_is_noticed_at_once(
    server: ScriptedModelServer, http: httpx.AsyncClient
) -> None:
    server.append(Reply(tokens=1000, tokens_per_second=200))
    async with http.stream("POST", "/v1/chat/completions", json=BODY) as response:
        lines = 0
        async for line in response.aiter_lines():
            lines += bool(line)
            if lines == 5:
                break
    closed_at = time.monotonic()
    record = server.streams[0]
    noticed = await wait_for_disconnect(record) - closed_at
    print(f"disconnect noticed {noticed * 1000:.1f} ms after the client closed")
    assert noticed < 0.5
    assert not record.completed and not record.dropped
    assert 5 <= record.chunks_sent < 1000


async def test_client_disconnect_is_noticed_during_a_stall(
    server: ScriptedModelServer, http: httpx.AsyncClient
) -> None:
    server.append(Reply(text="never sent", stall_before_first_token=60))
    async with http.stream("POST", "/v1/chat/completions", json=BODY) as response:
        assert response.status_code == 200
    closed_at = time.monotonic()
    noticed = await wait_for_disconnect(server.streams[0]) - closed_at
    print(f"disconnect noticed {noticed * 1000:.1f} ms after the client closed during a stall")
    assert noticed < 0.5
    assert server.streams[0].chunks_sent == 0


async def test_exit_cuts_answers_still_being_sent() -> None:
    outcome: list[BaseException] = []

    async def read(base_url: str) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            try:
                await client.post(f"{base_url}/chat/completions", json=BODY)
            except httpx.HTTPError as exc:
                outcome.append(exc)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks:
            async with ScriptedModelServer() as server:
                server.append(Reply(text="stuck", stall_before_first_token=60))
                tasks.start_soon(read, server.base_url)
                while not server.streams:
                    await anyio.sleep(0.005)
            assert server.streams[0].dropped
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.RemoteProtocolError)
