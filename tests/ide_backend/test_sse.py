"""The event stream over real HTTP, with the scripted model streaming for real."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import closing

import anyio
import httpx
import pytest

from ide_backend import sse
from ide_backend.relay import RunChannel
from ide_backend.sse import _live
from runtime.events import (
    TERMINAL_TYPES,
    AgentStreamChunkEvent,
    AgentTurnEvent,
    Event,
    RunCompletedEvent,
    RunStartedEvent,
)
from runtime.model_server import Reply, ScriptedModelServer
from tests.ide_backend.conftest import Ide, IdeFactory
from tests.ide_backend.sse_client import Feed, check_coherent, follow, parse

pytestmark = pytest.mark.anyio


@pytest.fixture
async def scripted(ide: Ide) -> ScriptedModelServer:
    return await ide.services.runtime.scripted_server()


async def stored_events(ide: Ide, run_id: str) -> list[Event]:
    """The run's events once the store has its end: an executor records them itself, and its
    last ones may reach a watcher a moment before they are committed."""
    with anyio.fail_after(30):
        while True:
            await ide.services.store.flush()
            events = await ide.services.store.read_events(run_id)
            if events and events[-1].type in TERMINAL_TYPES:
                return events
            await anyio.sleep(0.05)


def final_text(feed: Feed) -> str:
    completed = [
        m for m in feed.messages if m.event == "agent_turn" and m.data["stage"] != "started"
    ]
    return str(completed[-1].data["text"])


@pytest.mark.parametrize("coalesce_ms", [0, 50])
async def test_reconnecting_mid_stream_resumes_without_gap_or_duplicate(
    ide: Ide, scripted: ScriptedModelServer, coalesce_ms: int
) -> None:
    scripted.append(
        Reply(tokens=300, tokens_per_second=300), Reply(tokens=300, tokens_per_second=300)
    )
    for use_header in (True, False):
        run_id = await ide.start()
        # Cut mid-answer: after some chunk messages (a few, when they are gathered).
        stop_after = 5 if coalesce_ms else 25
        feed = await follow(ide.client, run_id, stop_after=stop_after, coalesce_ms=coalesce_ms)
        assert feed.types[-1] == "agent_stream_chunk"
        cut = feed.last_id
        await follow(
            ide.client, run_id, feed=feed, after=cut, header=use_header, coalesce_ms=coalesce_ms
        )
        assert feed.ids == sorted(set(feed.ids)), "in order, no duplicates"
        assert feed.types[-1] == "run_completed"
        events = await stored_events(ide, run_id)
        text = final_text(feed)
        assert len(text) > 500
        assert feed.texts == {("writer", 1): text}
        # Every message, before and after the cut, stands for exactly the events after the
        # one before it (a watcher behind gets consecutive chunks merged).
        check_coherent(feed.messages, events)
        if coalesce_ms:
            chunks = sum(isinstance(e, AgentStreamChunkEvent) for e in events)
            assert feed.types.count("agent_stream_chunk") < chunks / 4


async def test_a_window_gathers_live_chunks_into_fewer_messages(
    ide: Ide, scripted: ScriptedModelServer
) -> None:
    scripted.append(Reply(tokens=300, tokens_per_second=300))
    run_id = await ide.start()
    feed = await follow(ide.client, run_id, coalesce_ms=100)
    events = await stored_events(ide, run_id)
    chunk_events = [e for e in events if isinstance(e, AgentStreamChunkEvent)]
    chunk_messages = [m for m in feed.messages if m.event == "agent_stream_chunk"]
    # About a second of text in 100 ms windows: a message per window, not one per token.
    assert len(chunk_events) >= 100
    assert len(chunk_messages) < len(chunk_events) / 4
    assert feed.ids == sorted(set(feed.ids)), "increasing seqs"
    check_coherent(feed.messages, events)
    text = final_text(feed)
    assert (
        feed.texts[("writer", 1)].encode()
        == text.encode()
        == chunk_events[-1].accumulated_text.encode()
    )
    # Only chunks wait: every other event is there, in order, the run's end last, and what
    # follows the last chunk message is exactly the events after the last chunk.
    others = [e for e in events if not isinstance(e, AgentStreamChunkEvent)]
    assert [(m.id, m.event) for m in feed.messages if m.event != "agent_stream_chunk"] == [
        (e.seq, e.type) for e in others
    ]
    last = feed.messages.index(chunk_messages[-1])
    assert chunk_messages[-1].id == chunk_events[-1].seq
    assert [m.id for m in feed.messages[last + 1 :]] == [
        e.seq for e in others if e.seq > chunk_events[-1].seq
    ]
    assert feed.types[-1] == "run_completed"


async def test_a_bad_window_is_refused(ide: Ide) -> None:
    run_id = await ide.start("hello.tac", inputs={"name": "Ada"})
    refused = {
        "error": {
            "code": "bad_request",
            "message": "coalesce_ms must be a whole number from 0 to 1000",
        }
    }
    for bad in ("-1", "1001", "1.5", "abc", "", "1e3", " 5", "\u0665"):
        for target in (run_id, "no-such-run"):
            answer = await ide.client.get(f"/api/runs/{target}/events", params={"coalesce_ms": bad})
            assert answer.status_code == 400, bad
            assert answer.json() == refused
    for good in (0, 1000):
        feed = await follow(ide.client, run_id, coalesce_ms=good)
        assert feed.types[-1] == "run_completed"


async def test_two_watchers_see_the_same_stream(ide: Ide, scripted: ScriptedModelServer) -> None:
    scripted.append(Reply(tokens=200, tokens_per_second=400, stall_before_first_token=0.5))
    run_id = await ide.start()
    feeds: list[Feed] = []

    async def watch() -> None:
        feeds.append(await follow(ide.client, run_id))

    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        group.start_soon(watch)
    first, second = feeds
    assert [(m.id, m.event, m.data) for m in first.messages] == [
        (m.id, m.event, m.data) for m in second.messages
    ]
    assert first.types[-1] == "run_completed"
    assert first.texts[("writer", 1)] == final_text(first)


async def test_a_late_joiner_gets_a_merged_snapshot(make_ide: IdeFactory) -> None:
    # In the server's process, where the first watcher sees the chunks in many messages (a few
    # merged when they come faster than it writes); an executor may hand them over in one burst.
    async with make_ide(executors=False) as ide:
        scripted = await ide.services.runtime.scripted_server()
        scripted.append(Reply(tokens=120, tokens_per_second=0))
        run_id = await ide.start()
        full = await follow(ide.client, run_id, after=0)
        late = await follow(ide.client, run_id)
    chunk_ids = [m.id for m in full.messages if m.event == "agent_stream_chunk"]
    merged = [m for m in late.messages if m.event == "agent_stream_chunk"]
    assert len(chunk_ids) >= 20
    assert len(merged) == 1
    assert merged[0].id == chunk_ids[-1]
    assert merged[0].data["offset"] == 0
    assert late.texts == full.texts
    non_chunks = [m.id for m in full.messages if m.event != "agent_stream_chunk"]
    assert [m.id for m in late.messages if m.event != "agent_stream_chunk"] == non_chunks


async def test_after_the_end_the_store_serves_reconnects(
    make_ide: IdeFactory,
) -> None:
    async with make_ide() as ide:
        scripted = await ide.services.runtime.scripted_server()
        scripted.append(Reply(tokens=80, tokens_per_second=0))
        run_id = await ide.start()
        full = await follow(ide.client, run_id, after=0)
        live = ide.services.manager.get(run_id)
        if live is not None:
            await live.done.wait()
        assert ide.services.manager.get(run_id) is None  # not in memory any more
        events = await stored_events(ide, run_id)
        text = full.texts[("writer", 1)]
        for cut in (0, 5, full.ids[len(full.ids) // 2], full.last_id - 1):
            rest = await follow(ide.client, run_id, after=cut, feed=Feed(rebuild=False))
            check_coherent(rest.messages, events, after=cut)
            assert rest.last_id == full.last_id
            chunks = [m.data for m in rest.messages if m.event == "agent_stream_chunk"]
            if chunks:
                rebuilt = text[: chunks[0]["offset"]] + "".join(c["chunk_text"] for c in chunks)
                assert rebuilt == text
        assert (await follow(ide.client, run_id, after=full.last_id)).messages == []
        snapshot = await follow(ide.client, run_id)
        assert snapshot.texts == full.texts
        assert snapshot.types.count("agent_stream_chunk") == 1


async def test_a_watcher_leaving_does_not_stop_the_run(
    ide: Ide, scripted: ScriptedModelServer
) -> None:
    scripted.append(Reply(tokens=150, tokens_per_second=300))
    run_id = await ide.start()
    partial = await follow(ide.client, run_id, stop_after=10)  # then disconnects
    assert partial.types[-1] != "run_completed"
    with anyio.fail_after(20):
        while (await ide.client.get(f"/api/runs/{run_id}")).json()["status"] == "running":
            await anyio.sleep(0.05)
    detail = (await ide.client.get(f"/api/runs/{run_id}")).json()
    assert detail["status"] == "completed"
    assert scripted.streams[-1].completed
    assert not scripted.streams[-1].client_disconnected


async def test_cancel_stops_the_run_closes_the_model_stream_and_keeps_the_partial_text(
    ide: Ide, scripted: ScriptedModelServer
) -> None:
    scripted.append(Reply(tokens=5000, tokens_per_second=200))
    run_id = await ide.start()
    feed = await follow(ide.client, run_id, stop_after=30)

    async def cancel_soon() -> None:
        await anyio.sleep(0.3)
        answer = await ide.client.post(f"/api/runs/{run_id}/cancel")
        assert answer.json() == {"run_id": run_id, "status": "cancelled"}

    async with anyio.create_task_group() as group:
        group.start_soon(cancel_soon)
        await follow(ide.client, run_id, feed=feed, after=feed.last_id)
    assert feed.types[-1] == "run_cancelled"
    partial = feed.messages[-1].data["partial_text"]
    assert partial and partial == feed.texts[("writer", 1)]

    detail = (await ide.client.get(f"/api/runs/{run_id}")).json()
    assert detail["status"] == "cancelled"
    assert detail["partial_text"] == partial
    await ide.services.store.flush()
    stored = await ide.services.store.read_events(run_id)
    chunks = [e for e in stored if isinstance(e, AgentStreamChunkEvent)]
    assert chunks[-1].accumulated_text == partial

    stream = scripted.streams[-1]
    with anyio.fail_after(5):
        while not stream.client_disconnected:
            await anyio.sleep(0.02)
    assert not stream.completed
    assert stream.tokens_sent < 5000


async def test_a_slow_watcher_does_not_hold_back_a_fast_one(
    ide: Ide, scripted: ScriptedModelServer
) -> None:
    scripted.append(Reply(tokens=3000, tokens_per_second=0))
    run_id = await ide.start()
    async with (
        httpx.AsyncClient(base_url=ide.url, timeout=30) as slow_client,
        slow_client.stream("GET", f"/api/runs/{run_id}/events?after=0") as slow,
    ):
        # The slow watcher reads nothing while the run streams to the end.
        with anyio.fail_after(20):
            fast = await follow(ide.client, run_id, after=0)
        assert fast.types[-1] == "run_completed"
        text = await slow.aread()
    # It gets the whole stream or is told to resume; either way it can rebuild the text.
    slow_feed = Feed()
    for block in text.decode().split("\n\n"):
        message = parse(block)
        if message is not None and message.event != "lagged":
            slow_feed.apply(message)
    if slow_feed.types[-1] != "run_completed":
        await follow(ide.client, run_id, feed=slow_feed, after=slow_feed.last_id)
    assert slow_feed.texts == fast.texts


async def test_keep_alive_comments(make_ide: IdeFactory) -> None:
    async with make_ide(keepalive_s=0.2) as ide:
        scripted = await ide.services.runtime.scripted_server()
        scripted.append(Reply(text="late", stall_before_first_token=1.0))
        run_id = await ide.start()
        feed = await follow(ide.client, run_id)
        assert feed.comments >= 2
        assert feed.types[-1] == "run_completed"


async def _collect(stream: AsyncIterator[bytes]) -> list[bytes]:
    return [part async for part in stream]


def chunk(seq: int, offset: int, text: str = "x") -> AgentStreamChunkEvent:
    return AgentStreamChunkEvent(
        run_id="r1", seq=seq, agent="a", turn=1, chunk_text=text, offset=offset
    )


def ids_in(body: bytes) -> list[int]:
    return [int(line[4:]) for line in body.decode().splitlines() if line.startswith("id: ")]


async def test_a_watcher_too_far_behind_is_told_where_to_resume() -> None:
    channel = RunChannel("r1", max_backlog=10)
    channel.log(RunStartedEvent(run_id="r1", seq=1, procedure="p"))
    stream = _live(channel, 0)
    first = await stream.__anext__()
    assert b"id: 1\n" in first
    # The watcher does not come back for its next message while 11 events arrive.
    for seq in range(2, 13):
        channel.log(chunk(seq, seq - 2))
    assert await _collect(stream) == [b'event: lagged\ndata: {"resume_after":1}\n\n']
    assert channel.watchers == 0
    # Resuming after 1 replays the rest, the chunks taken at once as one, then the end.
    channel.log(RunCompletedEvent(run_id="r1", seq=13))
    body = b"".join(await _collect(_live(channel, 1)))
    assert ids_in(body) == [12, 13]
    assert b'"chunk_text":"xxxxxxxxxxx","offset":0}' in body


async def test_a_watcher_behind_gets_merged_chunks_and_resumes_exactly() -> None:
    channel = RunChannel("r1", max_backlog=100)
    channel.log(RunStartedEvent(run_id="r1", seq=1, procedure="p"))
    stream = _live(channel, None)
    assert ids_in(await stream.__anext__()) == [1]
    # One chunk while the watcher keeps up: a message of its own.
    channel.log(chunk(2, 0, "a"))
    assert ids_in(await stream.__anext__()) == [2]
    # Three while it is busy elsewhere: one message, the last one's id, the first's offset.
    for seq, text in ((3, "b"), (4, "c"), (5, "d")):
        channel.log(chunk(seq, seq - 2, text))
    merged = await stream.__anext__()
    assert ids_in(merged) == [5]
    assert b'"chunk_text":"bcd","offset":1}' in merged
    await stream.aclose()
    # A watcher that resumes after the merged message gets exactly what came after it.
    channel.log(chunk(6, 4, "e"))
    channel.log(RunCompletedEvent(run_id="r1", seq=7))
    rest = b"".join(await _collect(_live(channel, 5)))
    assert ids_in(rest) == [6, 7]
    assert b'"chunk_text":"e","offset":4}' in rest
    assert channel.watchers == 0


async def test_a_stored_run_whose_process_died_ends_its_stream(
    ide: Ide, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run another process was recording, left unfinished by that process's death: its
    watchers get what was stored, then the run's end (interrupted), and the stream ends
    instead of polling for ever."""
    monkeypatch.setattr(sse, "REAP_AFTER_S", 0.0)
    store = ide.services.store
    store.record_event(RunStartedEvent(run_id="orphan", seq=1, procedure="p.tac", inputs={}))
    await store.flush()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with closing(sqlite3.connect(store.path)) as conn:
        conn.execute("UPDATE runs SET owner = ?", (f"{socket.gethostname()}:{gone.pid}",))
        conn.commit()
    feed = await follow(ide.client, "orphan")
    assert feed.types == ["run_started", "run_failed"]
    record = await store.get_run("orphan")
    assert record is not None and record.status == "failed"
    assert record.error is not None and record.error.kind == "interrupted"


def turn_completed(seq: int) -> AgentTurnEvent:
    return AgentTurnEvent(run_id="r1", seq=seq, agent="a", turn=1, stage="completed")


def recorder(
    stream: AsyncGenerator[bytes, None],
) -> tuple[list[bytes], Callable[[], Awaitable[None]]]:
    """The writes a stream has made, and a function that waits for its next one."""
    writes: list[bytes] = []

    async def next_write() -> None:
        writes.append(await stream.__anext__())

    return writes, next_write


async def test_a_window_holds_live_chunks_until_any_other_event() -> None:
    channel = RunChannel("r1", max_backlog=100)
    channel.log(RunStartedEvent(run_id="r1", seq=1, procedure="p"))
    channel.log(chunk(2, 0, "a"))
    # An hour's window: if anything but another event sent what is held, it would not be here.
    stream = _live(channel, None, window_s=3600)
    writes, next_write = recorder(stream)

    with anyio.fail_after(10):
        # What the watcher starts with is written at once.
        await next_write()
        assert ids_in(writes[-1]) == [1, 2]
        async with anyio.create_task_group() as group:
            group.start_soon(next_write)
            for seq, text in ((3, "b"), (4, "c"), (5, "d")):
                channel.log(chunk(seq, seq - 2, text))
                await anyio.wait_all_tasks_blocked()
            assert len(writes) == 1, "live chunks are held"
            channel.log(turn_completed(6))
        # The turn's end goes out at once, with the chunks held before it, as one.
        assert ids_in(writes[-1]) == [5, 6]
        assert b'"chunk_text":"bcd","offset":1}' in writes[-1]
        async with anyio.create_task_group() as group:
            group.start_soon(next_write)
            channel.log(chunk(7, 4, "e"))
            await anyio.wait_all_tasks_blocked()
            assert len(writes) == 2
            channel.log(RunCompletedEvent(run_id="r1", seq=8))
        assert ids_in(writes[-1]) == [7, 8]
        assert await _collect(stream) == []
    assert channel.watchers == 0


async def test_held_chunks_go_out_when_the_window_closes() -> None:
    channel = RunChannel("r1", max_backlog=100)
    channel.log(RunStartedEvent(run_id="r1", seq=1, procedure="p"))
    stream = _live(channel, 0, window_s=0.02)
    with anyio.fail_after(10):
        assert ids_in(await stream.__anext__()) == [1]
        for seq, text in ((2, "a"), (3, "b"), (4, "c")):
            channel.log(chunk(seq, seq - 2, text))
        merged = await stream.__anext__()
        assert ids_in(merged) == [4]
        assert b'"chunk_text":"abc","offset":0}' in merged
        # A watcher resuming mid-turn gets the rest at once: it is what it starts with.
        channel.log(chunk(5, 3, "d"))
        assert ids_in(await _live(channel, 4, window_s=3600).__anext__()) == [5]
    await stream.aclose()


async def test_a_watcher_holding_chunks_too_far_behind_gets_them_then_lagged() -> None:
    channel = RunChannel("r1", max_backlog=5)
    channel.log(RunStartedEvent(run_id="r1", seq=1, procedure="p"))
    stream = _live(channel, None, window_s=3600)
    writes, next_write = recorder(stream)

    with anyio.fail_after(10):
        await next_write()
        async with anyio.create_task_group() as group:
            group.start_soon(next_write)
            channel.log(chunk(2, 0, "a"))
            await anyio.wait_all_tasks_blocked()
            for seq in range(3, 9):
                channel.log(chunk(seq, seq - 2))
        assert ids_in(writes[-1]) == [2]
        assert writes[-1].endswith(b'event: lagged\ndata: {"resume_after":2}\n\n')
        assert await _collect(stream) == []
    assert channel.watchers == 0


def test_a_chunk_message_is_written_byte_for_byte_as_clients_read_it() -> None:
    message = sse.encode((3, "writer", 1, 7, 'say "hi"\né'), "run-1")
    assert message == (
        b'id: 3\nevent: agent_stream_chunk\ndata: {"type":"agent_stream_chunk","run_id":"run-1",'
        b'"seq":3,"agent":"writer","turn":1,"chunk_text":"say \\"hi\\"\\n\xc3\xa9","offset":7}\n\n'
    )
