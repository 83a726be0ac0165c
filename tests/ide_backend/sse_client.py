"""Reading a run's event stream over HTTP, as the IDE's frontend does."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from runtime.events import AgentStreamChunkEvent, Event


@dataclass
class Message:
    id: int | None
    event: str
    data: dict[str, Any]


@dataclass
class Feed:
    """Messages received, and each turn's text rebuilt by offset the way the frontend does."""

    messages: list[Message] = field(default_factory=list)
    texts: dict[tuple[str, int], str] = field(default_factory=dict)
    comments: int = 0
    # The response's Content-Encoding, if any (httpx decodes gzip and deflate itself).
    encoding: str | None = None
    # Off for a stream that starts mid-turn, whose first chunks do not start at offset 0.
    rebuild: bool = True

    @property
    def ids(self) -> list[int]:
        return [m.id for m in self.messages if m.id is not None]

    @property
    def types(self) -> list[str]:
        return [m.event for m in self.messages]

    @property
    def last_id(self) -> int:
        return self.ids[-1] if self.ids else 0

    def apply(self, message: Message) -> None:
        self.messages.append(message)
        if message.event == "agent_stream_chunk" and self.rebuild:
            data = message.data
            key = (data["agent"], data["turn"])
            text = self.texts.get(key, "")
            offset = data["offset"]
            assert offset <= len(text), f"gap before seq {message.id}"
            self.texts[key] = text[:offset] + data["chunk_text"]


def parse(block: str) -> Message | None:
    fields: dict[str, str] = {}
    for line in block.split("\n"):
        if not line or line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields[name] = value.removeprefix(" ")
    if "data" not in fields:
        return None
    return Message(
        int(fields["id"]) if "id" in fields else None,
        fields.get("event", "message"),
        json.loads(fields["data"]),
    )


async def follow(
    client: httpx.AsyncClient,
    run_id: str,
    *,
    feed: Feed | None = None,
    after: int | None = None,
    header: bool = False,
    stop_after: int | None = None,
    accept_encoding: str | None = None,
    coalesce_ms: int | None = None,
) -> Feed:
    """Read the stream to its end, or until ``stop_after`` messages have arrived. The client's
    own Accept-Encoding is sent unless ``accept_encoding`` is given."""
    feed = feed if feed is not None else Feed()
    url = f"/api/runs/{run_id}/events"
    headers = {}
    params: dict[str, int] = {}
    if accept_encoding is not None:
        headers["Accept-Encoding"] = accept_encoding
    if after is not None and header:
        headers["Last-Event-ID"] = str(after)
    elif after is not None:
        params["after"] = after
    if coalesce_ms is not None:
        params["coalesce_ms"] = coalesce_ms
    received = 0
    async with client.stream("GET", url, headers=headers, params=params) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        feed.encoding = response.headers.get("content-encoding")
        buffer = ""
        async for text in response.aiter_text():
            buffer += text
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                if block.startswith(":"):
                    feed.comments += 1
                message = parse(block)
                if message is None:
                    continue
                feed.apply(message)
                received += 1
                if stop_after is not None and received >= stop_after:
                    return feed
    return feed


def check_coherent(messages: list[Message], events: list[Event], after: int = 0) -> None:
    """Each message stands for exactly the events after the previous message's id up to its
    own: a non-chunk event alone, or consecutive chunks of one turn merged (the first one's
    offset, their texts joined). A gap, a duplicate or a wrong merge fails."""
    by_seq = {event.seq: event for event in events}
    previous = after
    for message in messages:
        if message.id is None:
            continue
        covered = [by_seq[seq] for seq in range(previous + 1, message.id + 1)]
        assert covered, f"message {message.id} after {previous}: repeated or out of order"
        if message.event == "agent_stream_chunk":
            data = message.data
            assert all(isinstance(e, AgentStreamChunkEvent) for e in covered), message.id
            chunks = [e for e in covered if isinstance(e, AgentStreamChunkEvent)]
            assert {(e.agent, e.turn) for e in chunks} == {(data["agent"], data["turn"])}
            assert data["offset"] == chunks[0].offset
            assert data["chunk_text"] == "".join(e.chunk_text for e in chunks)
            assert data["seq"] == message.id
        else:
            assert [e.type for e in covered] == [message.event], f"gap before {message.id}"
        previous = message.id
