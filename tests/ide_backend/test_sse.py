"""The event stream over real HTTP, with the scripted model streaming for real."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from ide_backend.relay import RunChannel
from ide_backend.sse import _live
from runtime.events import AgentStreamChunkEvent, RunCompletedEvent, RunStartedEvent
from runtime.model_server import Reply, ScriptedModelServer
from tests.ide_backend.conftest import Ide, IdeFactory
from tests.ide_backend.sse_client import Feed, follow, parse

pytestmark = pytest.mark.anyio


@pytest.fixture
async def scripted(ide: Ide) -> ScriptedModelServer:
    return await ide.services.runtime.scripted_server()


def final_text(feed: Feed) -> str:
    completed = [
        m for m in feed.messages if m.event == "agent_turn" and m.data["stage"] != "started"
    ]
    return str(completed[-1].data["text"])


async def test_reconnecting_mid_stream_resumes_without_gap_or_duplicate(
    ide: Ide, scripted: ScriptedModelServer
) -> None:
    scripted.append(
        Reply(tokens=300, tokens_per_second=300), Reply(tokens=300, tokens_per_second=300)
    )
    for use_header in (True, False):
        run_id = await ide.start()
        feed = await follow(ide.client, run_id, stop_after=25)
        assert feed.types[-1] == "agent_stream_chunk"
        cut = feed.last_id
        await follow(ide.client, run_id, feed=feed, after=cut, header=use_header)
        assert feed.ids == sorted(set(feed.ids)), "in order, no duplicates"
        assert feed.types[-1] == "run_completed"
        text = final_text(feed)
        assert len(text) > 500
        assert feed.texts == {("writer", 1): text}
        # After the snapshot every event is its own message: seqs follow one another.
        resumed = [m.id for m in feed.messages[25:]]
        assert resumed == list(range(cut + 1, cut + 1 + len(resumed)))


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


async def test_a_late_joiner_gets_a_merged_snapshot(
    ide: Ide, scripted: ScriptedModelServer
) -> None:
    scripted.append(Reply(tokens=120, tokens_per_second=0))
    run_id = await ide.start()
    full = await follow(ide.client, run_id, after=0)
    late = await follow(ide.client, run_id)
    chunk_ids = [m.id for m in full.messages if m.event == "agent_stream_chunk"]
    merged = [m for m in late.messages if m.event == "agent_stream_chunk"]
    assert len(chunk_ids) >= 100
    assert len(merged) == 1
    assert merged[0].id == chunk_ids[-1]
    assert merged[0].data["offset"] == 0
    assert late.texts == full.texts
    non_chunks = [m.id for m in full.messages if m.event != "agent_stream_chunk"]
    assert [m.id for m in late.messages if m.event != "agent_stream_chunk"] == non_chunks


async def test_after_the_end_the_store_serves_reconnects(
    make_ide: IdeFactory,
) -> None:
    async with make_ide(retain_finished=0) as ide:
        scripted = await ide.services.runtime.scripted_server()
        scripted.append(Reply(tokens=80, tokens_per_second=0))
        run_id = await ide.start()
        full = await follow(ide.client, run_id, after=0)
        live = ide.services.manager.get(run_id)
        if live is not None:
            await live.done.wait()
        assert ide.services.manager.get(run_id) is None  # not in memory any more
        for cut in (0, 5, full.ids[len(full.ids) // 2], full.last_id - 1):
            rest = await follow(ide.client, run_id, after=cut, feed=Feed(rebuild=False))
            assert rest.ids == [i for i in full.ids if i > cut]
            assert [m.data for m in rest.messages] == [m.data for m in full.messages if m.id > cut]
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


async def test_a_watcher_too_far_behind_is_told_where_to_resume() -> None:
    channel = RunChannel("r1", max_backlog=10)
    channel.log(RunStartedEvent(run_id="r1", seq=1, procedure="p"))
    stream = _live(channel, 0)
    first = await stream.__anext__()
    assert b"id: 1\n" in first
    # The watcher does not come back for its next message while 11 events arrive.
    for seq in range(2, 13):
        channel.log(
            AgentStreamChunkEvent(
                run_id="r1", seq=seq, agent="a", turn=1, chunk_text="x", offset=seq - 2
            )
        )
    assert await _collect(stream) == [b'event: lagged\ndata: {"resume_after":1}\n\n']
    assert channel.watchers == 0
    # Resuming after 1 replays the rest and ends with the terminal event.
    channel.log(RunCompletedEvent(run_id="r1", seq=13))
    parts = await _collect(_live(channel, 1))
    body = b"".join(parts).decode()
    assert [int(line[4:]) for line in body.splitlines() if line.startswith("id: ")] == list(
        range(2, 14)
    )
