"""The event stream's compression: negotiated, flushed at every write, decodable."""

from __future__ import annotations

import zlib
from collections.abc import AsyncGenerator

import anyio
import pytest
from sse_starlette.sse import SendTimeoutError
from starlette.types import Message

from ide_backend.event_stream import Compressor, EventStreamResponse, negotiate
from runtime.model_server import Reply, ScriptedModelServer
from tests.ide_backend.conftest import Ide
from tests.ide_backend.sse_client import Feed, check_coherent, follow, parse

pytestmark = pytest.mark.anyio


@pytest.fixture
async def scripted(ide: Ide) -> ScriptedModelServer:
    return await ide.services.runtime.scripted_server()


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        (None, None),
        ("", None),
        ("identity", None),
        ("br", None),
        ("gzip", "gzip"),
        ("deflate, gzip;q=0.5", "gzip"),
        ("gzip;q=0, deflate", "deflate"),
        ("GZIP ; Q=1", "gzip"),
        ("*", "gzip"),
        ("*;q=0", None),
        ("gzip;q=oops, deflate", "deflate"),
    ],
)
def test_negotiation(header: str | None, chosen: str | None) -> None:
    assert negotiate(header) == chosen


@pytest.mark.parametrize(("encoding", "wbits"), [("gzip", 31), ("deflate", 15)])
def test_every_write_decodes_in_full_on_its_own(encoding: str, wbits: int) -> None:
    compressor = Compressor(encoding)
    decoder = zlib.decompressobj(wbits=wbits)
    messages = [b'id: %d\nevent: e\ndata: {"n":%d}\n\n' % (n, n) for n in range(50)]
    for message in messages:
        assert decoder.decompress(compressor.encode(message)) == message
    assert decoder.decompress(compressor.finish()) == b""
    assert decoder.eof


async def test_gzip_is_flushed_at_every_write(ide: Ide, scripted: ScriptedModelServer) -> None:
    # Ten chunks, then the model stalls far longer than the test: whatever arrives before the
    # cancel below was written, compressed and decodable while the stream was open.
    scripted.append(Reply(tokens=40, tokens_per_second=0, stall_after_tokens=10, stall_seconds=60))
    run_id = await ide.start()
    decoder = zlib.decompressobj(wbits=31)
    feed = Feed()
    pending = b""

    def take(data: bytes) -> None:
        nonlocal pending
        *blocks, pending = (pending + data).split(b"\n\n")
        for block in blocks:
            message = parse(block.decode())
            if message is not None:
                feed.apply(message)

    url = f"/api/runs/{run_id}/events"
    async with ide.client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.headers["content-encoding"] == "gzip"
        assert "accept-encoding" in response.headers["vary"].lower()
        reads = response.aiter_raw()
        # run_started (1), agent_turn (2), then the ten chunks (3 to 12), some maybe merged.
        while feed.last_id < 12:
            take(decoder.decompress(await reads.__anext__()))
        status = (await ide.client.get(f"/api/runs/{run_id}")).json()["status"]
        assert status == "running", "the messages came while the run was still going"
        cancel = await ide.client.post(f"/api/runs/{run_id}/cancel")
        assert cancel.json()["status"] == "cancelled"
        async for raw in reads:
            take(decoder.decompress(raw))
    assert decoder.eof, "the gzip stream is closed properly at the end"
    assert pending == b""
    assert feed.types[-1] == "run_cancelled"
    assert feed.messages[-1].data["partial_text"] == feed.texts[("writer", 1)]
    await ide.services.store.flush()
    check_coherent(feed.messages, await ide.services.store.read_events(run_id))


async def test_httpx_decodes_what_it_negotiates(ide: Ide, scripted: ScriptedModelServer) -> None:
    scripted.append(Reply(tokens=200, tokens_per_second=500))
    run_id = await ide.start()
    live = await follow(ide.client, run_id, after=0)
    assert live.encoding == "gzip"
    assert live.types[-1] == "run_completed"
    await ide.services.store.flush()
    events = await ide.services.store.read_events(run_id)
    check_coherent(live.messages, events)
    for accept, chosen in (("identity", None), ("deflate", "deflate"), ("gzip, deflate", "gzip")):
        feed = await follow(ide.client, run_id, after=0, accept_encoding=accept)
        assert feed.encoding == chosen
        assert feed.texts == live.texts
        check_coherent(feed.messages, events)
        assert feed.last_id == live.last_id


async def test_no_compression_unless_accepted(ide: Ide, scripted: ScriptedModelServer) -> None:
    scripted.append(Reply(text="Plain text, as sent."))
    run_id = await ide.start()
    url = f"/api/runs/{run_id}/events"
    async with ide.client.stream("GET", url, headers={"Accept-Encoding": "identity"}) as response:
        assert "content-encoding" not in response.headers
        body = b"".join([raw async for raw in response.aiter_raw()])
    assert body.startswith(b"id: 1\nevent: run_started\n")
    assert body.endswith(b"\n\n") and b"event: run_completed\n" in body
    chunks = [parse(b) for b in body.decode().split("\n\n") if "agent_stream_chunk" in b]
    assert "".join(m.data["chunk_text"] for m in chunks if m) == "Plain text, as sent."


class Source:
    """A stream's source that yields one message, then waits; notes whether it was closed."""

    def __init__(self) -> None:
        self.closed = False

    async def messages(self) -> AsyncGenerator[bytes, None]:
        try:
            yield b"id: 1\nevent: e\ndata: {}\n\n"
            await anyio.sleep_forever()
        finally:
            self.closed = True


async def test_a_client_that_hangs_up_ends_the_stream_and_its_source() -> None:
    source = Source()
    sent: list[Message] = []
    hung_up = anyio.Event()

    async def receive() -> Message:
        await hung_up.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        if message.get("body"):
            hung_up.set()

    response = EventStreamResponse(source.messages(), encoding=None, send_timeout=30)
    await response({"type": "http", "method": "GET"}, receive, send)
    assert source.closed
    assert sent[1]["body"] == b"id: 1\nevent: e\ndata: {}\n\n"


async def test_a_client_that_takes_nothing_is_dropped() -> None:
    source = Source()

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            await anyio.sleep_forever()  # the client's window is full, and stays full

    response = EventStreamResponse(source.messages(), encoding="gzip", send_timeout=0.2)
    with pytest.raises(SendTimeoutError):
        await response({"type": "http", "method": "GET"}, receive, send)
    assert source.closed
