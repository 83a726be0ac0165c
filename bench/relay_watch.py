"""The readers ``sse_relay.py`` runs: one SSE connection each, noting when every message
arrives. ``read_events`` follows a run on the IDE server; ``read_model`` reads the model server
directly, for the baseline without Tide."""

from __future__ import annotations

import json
import time
import zlib

import httpx
from relay_stats import Watch

RETRYABLE = (httpx.ReadError, httpx.RemoteProtocolError, httpx.ConnectError)
TERMINAL = ("run_completed", "run_failed", "run_cancelled")


async def read_events(
    client: httpx.AsyncClient, run_id: str, w: Watch, *, gzip: bool, coalesce_ms: int = 0
) -> None:
    """Follow a run to its end; with ``coalesce_ms``, asking the server to gather live chunks
    for that long."""
    w.run_id = run_id
    for attempt in range(3):
        try:
            await _read_once(client, run_id, w, gzip, coalesce_ms)
            return
        except RETRYABLE:
            # A kept-alive connection closed under the request: nothing arrived, try again.
            if w.ids or attempt == 2:
                raise
            w.retries += 1


async def _read_once(
    client: httpx.AsyncClient, run_id: str, w: Watch, gzip: bool, coalesce_ms: int
) -> None:
    headers = {"Accept-Encoding": "gzip" if gzip else "identity"}
    params = {"coalesce_ms": coalesce_ms} if coalesce_ms else None
    url = f"/api/runs/{run_id}/events"
    async with client.stream("GET", url, headers=headers, params=params) as response:
        w.encoding = response.headers.get("content-encoding", "identity")
        # Read raw, to count the bytes as they came, and decoded here: the decoder returns
        # everything a flushed write holds, as a browser's does.
        decoder = zlib.decompressobj(wbits=31) if w.encoding == "gzip" else None
        buffer = b""
        async for raw in response.aiter_raw():
            received = time.monotonic()
            aligned = not buffer
            data = decoder.decompress(raw) if decoder is not None else raw
            w.raw_bytes += len(raw)
            w.decoded_bytes += len(data)
            buffer += data
            chunk_only, text_bytes = True, 0
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                kind, size = _apply(w, block, received)
                chunk_only = chunk_only and kind == "agent_stream_chunk"
                text_bytes += size
                if kind in TERMINAL:
                    w.terminal = kind
                    return
            # A read of whole chunk messages only: its bytes are theirs alone.
            if aligned and chunk_only and text_bytes and not buffer:
                w.raw_chunk_read_bytes += len(raw)
                w.raw_chunk_read_text_bytes += text_bytes


def _apply(w: Watch, block: bytes, received: float) -> tuple[str, int]:
    """Take one SSE message; its type and, for a chunk, its text's size in bytes."""
    fields = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
    if b"id" not in fields:
        return "comment", 0
    seq = int(fields[b"id"])
    kind = fields.get(b"event", b"").decode()
    w.ids.append((seq, kind))
    if kind in ("run_failed", "run_cancelled"):
        w.error = json.loads(fields[b"data"]).get("error")
    if kind != "agent_stream_chunk":
        return kind, 0
    event = json.loads(fields[b"data"])
    text = event["chunk_text"]
    size = len(text.encode())
    w.chunks.append((received, event["offset"], text, seq))
    w.chunk_wire_bytes += len(block) + 2
    w.chunk_text_bytes += size
    return kind, size


async def read_model(client: httpx.AsyncClient, tag: str, w: Watch) -> None:
    """One streamed completion straight from the model server, as the runtime asks for it."""
    body = {
        "model": "tide-scripted",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [
            {"role": "system", "content": "You write."},
            {"role": "user", "content": tag},
        ],
    }
    offset = count = 0
    async with client.stream("POST", "/chat/completions", json=body) as response:
        buffer = b""
        async for raw in response.aiter_raw():
            received = time.monotonic()
            buffer += raw
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                if block == b"data: [DONE]":
                    w.terminal = "run_completed"
                    return
                choices = json.loads(block.removeprefix(b"data: "))["choices"]
                content = choices[0]["delta"].get("content") if choices else None
                if content:
                    count += 1
                    w.chunks.append((received, offset, content, count))
                    offset += len(content)
