"""A finished run's events live in the store, not in the server's memory: however many runs
end, what the server holds returns to where it was, and every stream, replay and resumption
still gets exactly the run's events, from the store."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import anyio
import httpx
import pytest

from ide_backend.relay import RunChannel, Watcher
from ide_backend.runs import RELEASE_AT
from ide_backend.sse import _live
from runtime.chunks import Entry, seq_of
from runtime.events import (
    AgentStreamChunkEvent,
    Event,
    LogEvent,
    RunCompletedEvent,
    RunStartedEvent,
)
from tests.ide_backend.conftest import Ide, IdeFactory
from tests.ide_backend.sse_client import check_coherent, follow, parse

pytestmark = pytest.mark.anyio

# Each run logs 40 messages of 60,000 characters (under the 64 KiB cut): 2.4 MB of events.
LOUD = """
Procedure {
  function(input)
    local block = string.rep("x", 60000)
    for i = 1, 40 do Log.info(block .. i) end
    return { done = true }
  end
}
"""
RUNS = 12
RUN_BYTES = 40 * 60_000


async def _ended(ide: Ide, run_id: str) -> None:
    live = ide.services.manager.get(run_id)
    if live is not None:
        with anyio.fail_after(60):
            await live.done.wait()


def _held_entries(ide: Ide) -> int:
    return sum(len(live.channel.entries) for live in ide.services.manager.recent())


async def test_memory_returns_to_its_baseline_after_many_large_runs(
    make_ide: IdeFactory, workspace: Path
) -> None:
    (workspace / "loud.tac").write_text(LOUD)
    async with make_ide() as ide:
        # A first run loads what every run uses once (modules, caches, the store's statements).
        await _ended(ide, await ide.start("loud.tac"))
        gc.collect()
        tracemalloc.start()
        try:
            baseline = tracemalloc.get_traced_memory()[0]
            run_ids = []
            for _ in range(RUNS):
                run_id = await ide.start("loud.tac")
                run_ids.append(run_id)
                await _ended(ide, run_id)
            assert ide.services.manager.recent() == []
            assert _held_entries(ide) == 0
            # Nor any record of them: the executors recorded the runs (and the store's own
            # records of runs in this process go when they end).
            assert ide.services.store._live == {}  # type: ignore[attr-defined]
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - baseline
        finally:
            tracemalloc.stop()
        # The runs made RUNS * RUN_BYTES (29 MB) of events; the server kept none of them (what
        # is left is the allocator's and the connection's small change).
        assert grown < RUN_BYTES, f"{grown} bytes held after {RUNS} runs"
        # And each is served, whole, from the store.
        for run_id in (run_ids[0], run_ids[-1]):
            feed = await follow(ide.client, run_id)
            logs = [m for m in feed.messages if m.event == "log"]
            assert [m.data["message"][-2:] for m in logs[-2:]] == ["39", "40"]
            assert len(logs) == 40
            assert feed.types[-1] == "run_completed"


async def test_a_reader_left_behind_when_the_run_ends_gets_the_rest_from_the_store(
    make_ide: IdeFactory, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 12 MB of events, uncompressed: more than the connection buffers, so the server's writer
    # waits for a reader that does not read, and the run ends (and lets go of them) meanwhile.
    (workspace / "louder.tac").write_text(LOUD.replace("1, 40", "1, 200"))
    from_store: list[int] = []
    take_stored = RunChannel.take_stored

    async def counted(channel: RunChannel, watcher: Watcher) -> Sequence[Entry]:
        entries = await take_stored(channel, watcher)
        from_store.append(len(entries))
        return entries

    monkeypatch.setattr(RunChannel, "take_stored", counted)
    async with make_ide() as ide:
        run_id = await ide.start("louder.tac")
        url = f"/api/runs/{run_id}/events"
        async with ide.client.stream(
            "GET", url, headers={"Accept-Encoding": "identity"}
        ) as response:
            chunks = response.aiter_text()
            buffer = await anext(chunks)
            await _ended(ide, run_id)
            assert ide.services.manager.get(run_id) is None
            async for text in chunks:
                buffer += text
        messages = [m for m in map(parse, buffer.split("\n\n")) if m is not None]
        events = await ide.services.store.read_events(run_id)
        check_coherent(messages, events)
        assert messages[-1].id == events[-1].seq
        assert messages[-1].event == "run_completed"
        assert sum(from_store) > 0


def _events(run_id: str, count: int) -> list[Event]:
    events: list[Event] = [RunStartedEvent(run_id=run_id, seq=1, procedure="p")]
    offset = 0
    for seq in range(2, count):
        text = f"t{seq} "
        events.append(
            AgentStreamChunkEvent(
                run_id=run_id, seq=seq, agent="a", turn=1, chunk_text=text, offset=offset
            )
        )
        offset += len(text)
    events.append(LogEvent(run_id=run_id, seq=count, level="info", message="end"))
    return events


class _Store:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def read(self, after: int) -> list[Entry]:
        return [e for e in self.events if e.seq > after]


async def test_a_channel_lets_go_of_its_events_and_watchers_read_them_from_the_store() -> None:
    store = _Store()
    channel = RunChannel("r", max_backlog=1000, stored=store.read)
    events = _events("r", 20)
    for event in events[:10]:
        channel.log(event)
        store.events.append(event)
    ahead = channel.watch(0)
    assert len(channel.take(ahead)) == 10
    behind = channel.watch(0)
    late = channel.watch(4)
    channel.release()
    assert channel.entries == [] and channel.last_seq == 10
    assert not ahead.behind and behind.behind and late.behind
    assert [seq_of(e) for e in await channel.take_stored(behind)] == list(range(1, 11))
    assert [seq_of(e) for e in await channel.take_stored(late)] == list(range(5, 11))
    # The run goes on (resumed): the channel holds what follows, and everyone gets it once.
    for event in events[10:]:
        channel.log(event)
    for watcher in (ahead, behind, late):
        assert not watcher.behind
        assert [seq_of(e) for e in channel.take(watcher)] == list(range(11, 21))
    # A watcher that starts before what the channel holds reads the store first.
    fresh = channel.watch(3)
    assert fresh.behind
    assert [seq_of(e) for e in await channel.take_stored(fresh)] == list(range(4, 11))
    assert [seq_of(e) for e in channel.take(fresh)] == list(range(11, 21))


async def test_a_running_channel_lets_go_of_what_the_store_has_up_to_a_seq() -> None:
    store = _Store()
    channel = RunChannel("r", max_backlog=1000, stored=store.read)
    events = _events("r", 30)
    for event in events[:20]:
        channel.log(event)
    store.events.extend(events[:15])  # the store is a little behind the run
    ahead, middle, start = channel.watch(0), channel.watch(0), channel.watch(0)
    channel.take(ahead)
    middle.cursor, middle.delivered = 12, 12  # it has taken the first twelve
    channel.release(15)
    assert [seq_of(e) for e in channel.entries] == list(range(16, 21))
    assert channel.stored_through == 15 and channel.last_seq == 20
    assert not ahead.behind and middle.behind and start.behind
    assert channel.take(ahead) == ()
    assert [seq_of(e) for e in await channel.take_stored(middle)] == [13, 14, 15]
    assert [seq_of(e) for e in await channel.take_stored(start)] == list(range(1, 16))
    for watcher in (middle, start):
        assert not watcher.behind
        assert [seq_of(e) for e in channel.take(watcher)] == list(range(16, 21))
    channel.release(10)  # nothing it still holds: nothing changes
    assert [seq_of(e) for e in channel.entries] == list(range(16, 21))
    for event in events[20:]:
        channel.log(event)
    for watcher in (ahead, middle, start):
        assert [seq_of(e) for e in channel.take(watcher)] == list(range(21, 31))


async def test_a_stream_spanning_the_release_is_exact() -> None:
    store = _Store()
    channel = RunChannel("r", max_backlog=1000, stored=store.read)
    events = [*_events("r", 30), RunCompletedEvent(run_id="r", seq=31)]
    received: list[bytes] = []

    async def read() -> None:
        async for data in _live(channel, 2):
            received.append(data)

    async with anyio.create_task_group() as group:
        for event in events[:5]:
            channel.log(event)
            store.events.append(event)
        group.start_soon(read)
        await anyio.sleep(0.05)
        for event in events[5:]:
            channel.log(event)
            store.events.append(event)
        channel.release()
    text = b"".join(received).decode()
    messages = [m for m in map(parse, text.split("\n\n")) if m is not None]
    check_coherent(messages, events, after=2)
    assert messages[-1].event == "run_completed"


async def test_a_waiting_run_keeps_no_events_in_memory(
    make_ide: IdeFactory, workspace: Path
) -> None:
    (workspace / "ask.tac").write_text(
        """
Procedure {
  function(input)
    Log.info(string.rep("y", 60000))
    local ok = Human.approve{ message = "Go on?" }
    return { ok = ok }
  end
}
"""
    )
    async with make_ide() as ide:
        run_id = await ide.start("ask.tac")
        with anyio.fail_after(60):
            while (await ide.client.get(f"/api/runs/{run_id}")).json()["status"] != "waiting":
                await anyio.sleep(0.05)
        live = ide.services.manager.get(run_id)
        assert live is not None
        with anyio.fail_after(30):
            await live.done.wait()
        assert live.channel.entries == []
        feed = await follow(ide.client, run_id, stop_after=2)
        assert feed.types[:2] == ["run_started", "log"]
        pending = (await ide.client.get(f"/api/runs/{run_id}")).json()
        assert pending["status"] == "waiting"
        answered = await _answer(ide.client, run_id)
        assert answered.status_code == 202, answered.text
        await _ended(ide, run_id)
        full = await follow(ide.client, run_id)
        assert full.types[-1] == "run_completed"
        assert ide.services.manager.get(run_id) is None


async def _answer(client: httpx.AsyncClient, run_id: str) -> httpx.Response:
    [pending] = (await client.get(f"/api/runs/{run_id}")).json()["pending"]
    request_id = pending["request_id"]
    return await client.post(
        f"/api/runs/{run_id}/answer", json={"request_id": request_id, "value": True}
    )


async def test_a_run_in_an_executor_is_served_from_the_store_as_it_ended(
    make_ide: IdeFactory, workspace: Path
) -> None:
    (workspace / "quick.tac").write_text("Procedure { function(input) return { n = 1 } end }")
    async with make_ide(executors=True) as ide:
        for _ in range(3):
            run_id = await ide.start("quick.tac", mock=True)
            await _ended(ide, run_id)
            assert ide.services.manager.get(run_id) is None
            detail = (await ide.client.get(f"/api/runs/{run_id}")).json()
            assert (detail["status"], detail["mock"], detail["output"]) == (
                "completed",
                True,
                {"n": 1},
            )
            feed = await follow(ide.client, run_id)
            assert feed.types[0] == "run_started" and feed.types[-1] == "run_completed"


# Many small events, then a pause: the run is still going while the test looks.
CHATTY = """
Procedure {
  function(input)
    for i = 1, 20000 do Log.debug("line " .. i) end
    Sleep(1.5)
    return { done = true }
  end
}
"""


async def test_a_running_run_holds_only_its_latest_events(ide: Ide, workspace: Path) -> None:
    (workspace / "chatty.tac").write_text(CHATTY)
    run_id = await ide.start("chatty.tac")
    async with anyio.create_task_group() as group:
        feeds = []

        async def follow_into(after: int | None) -> None:
            feeds.append(await follow(ide.client, run_id, after=after))

        group.start_soon(follow_into, None)  # from the start, as it runs
        live = ide.services.manager.get(run_id)
        assert live is not None
        with anyio.fail_after(60):
            while live.record.status == "running" and live.channel.last_seq < 20_001:
                await anyio.sleep(0.05)
        await anyio.sleep(0.3)
        assert live.record.status == "running"
        # 20,001 events so far; the server holds the latest, the store has the rest.
        assert len(live.channel.entries) < RELEASE_AT * 2, len(live.channel.entries)
        assert live.channel.stored_through > 20_001 - RELEASE_AT * 2
        group.start_soon(follow_into, 100)  # a late reader, from the store and then live
    for feed in feeds:
        assert feed.types[-1] == "run_completed"
    first, late = feeds if feeds[0].ids[0] == 1 else feeds[::-1]
    assert first.ids == list(range(1, 20_003))
    assert late.ids == list(range(101, 20_003))
