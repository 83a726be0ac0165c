from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from runtime.event_size import MAX_EVENT_BYTES
from runtime.events import AgentStreamChunkEvent, RunFailedEvent, ToolCallEvent
from runtime.store import INTERRUPTED, RunRecord, SQLiteStore, StoreHandler, parse_since, turn_texts
from tests.store.events import T0, RunBuilder

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore.for_workspace(tmp_path) as opened:
        yield opened


def record(store: SQLiteStore, builder: RunBuilder, **meta: object) -> None:
    handler = StoreHandler(store, **meta)  # type: ignore[arg-type]
    for event in builder.events:
        handler.log(event)


async def test_a_run_and_its_events_round_trip(store: SQLiteStore, tmp_path: Path) -> None:
    run = RunBuilder("r1").started(topic="tides")
    run.turn("writer", "The tide comes in.", pieces=5).completed({"ok": True})
    record(store, run, model="m/one")
    await store.flush()

    assert (tmp_path / ".tide" / "runs.db").is_file()
    found = await store.get_run("r1")
    assert found is not None
    assert found.status == "completed"
    assert found.procedure == "p.tac"
    assert found.inputs == {"topic": "tides"}
    assert found.model == "m/one"
    assert found.output == {"ok": True}
    assert found.started_at == run.events[0].ts
    assert found.finished_at == run.events[-1].ts
    assert found.totals.total_tokens == 10
    assert found.totals.agent_turns == 1
    assert found.ttft_ms == pytest.approx(2.0)  # first chunk 2 ms after run_started

    events = await store.read_events("r1")
    assert [e.seq for e in events] == list(range(1, len(run.events) + 1))
    assert [e.model_dump() for e in events] == [e.model_dump() for e in run.events]
    chunks = [e for e in events if isinstance(e, AgentStreamChunkEvent)]
    assert chunks[-1].accumulated_text == "The tide comes in."
    assert [e.seq for e in await store.read_events("r1", after=4)] == list(
        range(5, len(run.events) + 1)
    )


async def test_a_run_without_a_model_is_named_after_its_agents_models(
    store: SQLiteStore,
) -> None:
    run = RunBuilder("r1").started()
    run.turn("a", "x", model="m/one").turn("b", "y", model="m/two").completed()
    record(store, run)
    await store.flush()
    found = await store.get_run("r1")
    assert found is not None and found.model == "m/one, m/two"


async def test_chunks_are_stored_as_deltas_so_storage_is_linear(
    store: SQLiteStore, tmp_path: Path
) -> None:
    def stored_bytes(run_id: str) -> int:
        with sqlite3.connect(tmp_path / ".tide" / "runs.db") as conn:
            row = conn.execute(
                "SELECT SUM(LENGTH(CAST(data AS BLOB))) FROM events "
                "WHERE run_id = ? AND type = 'agent_stream_chunk'",
                (run_id,),
            ).fetchone()
        return int(row[0])

    for run_id, words in (("short", 500), ("long", 4000)):
        text = "word " * words
        run = RunBuilder(run_id).started().turn("writer", text, pieces=words).completed()
        record(store, run)
    await store.flush()

    short, long = stored_bytes("short"), stored_bytes("long")
    assert long / short == pytest.approx(8, rel=0.05)
    # Per chunk: its five characters plus a fixed overhead, never the text so far.
    assert long < 4000 * (5 + 25)
    events = await store.read_events("long")
    assert turn_texts(events)[("writer", 1)] == "word " * 4000


async def test_chunk_text_is_stored_whole_whatever_its_characters(store: SQLiteStore) -> None:
    text = 'a\x00b "q" \\ \u2028 é 😀 \x00'
    run = RunBuilder("r1").started().turn("w\x00x", text, pieces=4).completed()
    record(store, run)
    await store.flush()
    events = await store.read_events("r1")
    assert turn_texts(events)[("w\x00x", 1)] == text
    assert [e.model_dump() for e in events] == [e.model_dump() for e in run.events]


async def test_an_event_too_large_is_stored_cut_and_marked(store: SQLiteStore) -> None:
    """A tool's arguments are the procedure's to choose: the history keeps a capped event, never
    the full value."""
    run = RunBuilder("big").started()
    call = ToolCallEvent(
        run_id="big",
        seq=len(run.events) + 1,
        tool="echo",
        call_id="c1",
        stage="started",
        args={"text": "t" * (8 * MAX_EVENT_BYTES), "n": 7},
    )
    run.events.append(call)
    record(store, run)
    await store.flush()

    with closing(sqlite3.connect(store.path)) as conn:
        (size,) = conn.execute(
            "SELECT length(data) FROM events WHERE seq = ?", (call.seq,)
        ).fetchone()
    assert size <= MAX_EVENT_BYTES
    stored = (await store.read_events("big"))[-1]
    assert isinstance(stored, ToolCallEvent) and stored.args["n"] == 7
    assert stored.args["text"].startswith("ttt") and stored.args["text"].endswith(
        f"…[truncated {8 * MAX_EVENT_BYTES - 64 * 1024:,} characters]"
    )


@pytest.mark.parametrize("ending", ["failed", "cancelled"])
async def test_the_partial_answer_of_a_run_that_did_not_finish_is_kept(
    store: SQLiteStore, ending: str
) -> None:
    run = RunBuilder("r1").started().turn("writer", "Half an ans", pieces=4, finish=False)
    if ending == "failed":
        run.failed("the model went away", partial_text="Half an ans")
    else:
        run.cancelled(partial_text="Half an ans")
    record(store, run)
    await store.flush()

    found = await store.get_run("r1")
    assert found is not None
    assert found.status == ending
    assert found.partial_text == "Half an ans"
    assert found.error is not None
    assert turn_texts(await store.read_events("r1")) == {("writer", 1): "Half an ans"}


async def test_listing_filters_and_orders_newest_first(store: SQLiteStore) -> None:
    for index, (procedure, ending) in enumerate(
        [("a.tac", "completed"), ("b.tac", "failed"), ("a.tac", "failed"), ("a.tac", None)]
    ):
        run = RunBuilder(f"run{index}", procedure, T0 + timedelta(minutes=index))
        run.started()
        if ending == "completed":
            run.completed()
        elif ending == "failed":
            run.failed("no")
        record(store, run)
    store.record_run(RunRecord(id="queued1", procedure="a.tac", inputs={"x": 1}))
    await store.flush()

    ids = [r.id for r in await store.list_runs()]
    assert ids == ["queued1", "run3", "run2", "run1", "run0"]
    assert [r.id for r in await store.list_runs(procedure="a.tac", status="failed")] == ["run2"]
    assert [r.status for r in await store.list_runs(status="running")] == ["running"]
    assert [r.id for r in await store.list_runs(limit=2)] == ["queued1", "run3"]
    assert [r.id for r in await store.list_runs(id_prefix="run")][-1] == "run0"
    assert await store.get_run("nope") is None
    queued = await store.get_run("queued1")
    assert queued is not None and queued.status == "queued" and queued.inputs == {"x": 1}


async def test_a_queued_run_becomes_running_then_finished(store: SQLiteStore) -> None:
    store.record_run(RunRecord(id="r1", procedure="p.tac", model="m/x", mock=True))
    run = RunBuilder("r1").started().turn("writer", "hi").completed()
    record(store, run)
    await store.flush()
    found = await store.get_run("r1")
    assert found is not None
    assert (found.status, found.model, found.mock) == ("completed", "m/x", True)


async def test_a_released_run_is_recorded_elsewhere_and_ended_from_its_stored_row(
    tmp_path: Path,
) -> None:
    # A host queues a run and hands it to an executor, which records it with its own store.
    host = SQLiteStore.for_workspace(tmp_path)
    executor = SQLiteStore.for_workspace(tmp_path)
    try:
        host.record_run(RunRecord(id="r1", procedure="p.tac", model="m/x", inputs={"x": 1}))
        await host.flush()
        host.release("r1")
        assert "r1" not in host._live
        run = RunBuilder("r1").started(x=1).turn("writer", "half an ans", pieces=3)
        record(executor, run)
        await executor.flush()
        # The executor's process dies: the host ends the run, from what the executor stored.
        host.record_event(run.failed("the run's process ended").events[-1])
        await host.flush()
        assert "r1" not in host._live  # ended: nothing of it is kept
        found = await host.get_run("r1")
        assert found is not None
        assert (found.status, found.procedure, found.model) == ("failed", "p.tac", "m/x")
        assert found.started_at == run.events[0].ts
        assert found.ttft_ms is not None
    finally:
        await executor.aclose()
        await host.aclose()


async def test_writes_are_batched_and_a_terminal_event_is_written_at_once(
    tmp_path: Path,
) -> None:
    # A long delay and a large batch: only the terminal event can cause this write.
    async with SQLiteStore.for_workspace(tmp_path, max_delay=60, max_events=10_000) as store:
        run = RunBuilder("r1").started().turn("writer", "abc", pieces=3)
        record(store, run)
        reader = SQLiteStore.for_workspace(tmp_path)
        try:
            assert await reader.get_run("r1") is None
            record(store, RunBuilder("r2").started().completed())
            for _ in range(200):
                if await reader.get_run("r2") is not None:
                    break
                await anyio.sleep(0.01)
            assert len(await reader.read_events("r1")) == len(run.events)
        finally:
            await reader.aclose()


def test_time_windows() -> None:
    assert parse_since("1h") == timedelta(hours=1)
    assert parse_since("24h") == timedelta(days=1)
    assert parse_since("7d") == timedelta(days=7)
    assert parse_since("30m") == timedelta(minutes=30)
    assert parse_since("all") is None
    with pytest.raises(ValueError, match="not a time window"):
        parse_since("soon")


async def test_unfinished_runs_of_live_or_foreign_processes_are_left_alone(
    tmp_path: Path,
) -> None:
    """Only a run whose recording process on this host is gone is ended by another process."""
    path = tmp_path / "runs.db"
    writer = SQLiteStore(path)
    record(writer, RunBuilder("r1").started())
    await writer.flush()
    (running,) = await writer.list_runs()
    assert running.status == "running"
    # This process is alive: opening the store again changes nothing.
    other = SQLiteStore(path)
    assert other.reap_abandoned_sync() == []
    with closing(sqlite3.connect(path)) as conn:
        # A process on another host, and one of this host that no longer exists.
        conn.execute("UPDATE runs SET owner = 'elsewhere:1'")
        conn.commit()
        assert other.reap_abandoned_sync() == []
        conn.execute("UPDATE runs SET owner = ?", (f"{socket.gethostname()}:{dead_pid()}",))
        conn.commit()
    assert other.reap_abandoned_sync() == [running.id]
    (ended,) = await other.list_runs()
    assert (ended.status, ended.error and ended.error.kind) == ("failed", "interrupted")
    await other.aclose()
    await writer.aclose()


def dead_pid() -> int:
    """The pid of a process that has exited (and been waited for)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def test_an_interrupted_run_ends_with_a_stored_terminal_event(tmp_path: Path) -> None:
    """A run whose process died gets, when another process opens the store, a ``run_failed``
    event (kind interrupted) after its last stored event: every watcher sees the run end, with
    its duration up to that event and the text of the turn that was streaming."""
    path = tmp_path / "runs.db"
    writer = SQLiteStore(path)
    run = RunBuilder("r1").started().turn("writer", "Half a sent", pieces=3, finish=False)
    record(writer, run)
    await writer.flush()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE runs SET owner = ?", (f"{socket.gethostname()}:{dead_pid()}",))
    other = SQLiteStore(path)  # opening it ends the run
    events = await other.read_events("r1")
    assert [e.seq for e in events] == list(range(1, len(run.events) + 2))
    ended = events[-1]
    assert isinstance(ended, RunFailedEvent)
    assert ended.error.kind == INTERRUPTED
    assert ended.partial_text == "Half a sent"
    last = run.events[-1].ts
    assert ended.ts == last
    expected_ms = (last - run.events[0].ts).total_seconds() * 1000
    assert ended.totals.duration_ms == pytest.approx(expected_ms)
    (ended_row,) = await other.list_runs()
    assert ended_row.status == "failed" and ended_row.partial_text == "Half a sent"
    assert ended_row.summary()["duration_ms"] == pytest.approx(expected_ms)
    # Found once: opening the store again adds nothing.
    again = SQLiteStore(path)
    assert again.reap_abandoned_sync() == []
    again.close()
    assert len(await other.read_events("r1")) == len(events)
    await other.aclose()
    await writer.aclose()


async def test_an_interrupted_turn_that_started_its_text_again_keeps_the_new_text(
    tmp_path: Path,
) -> None:
    # A turn whose stream restarted (a retried call): the later chunks begin again at offset 0.
    path = tmp_path / "runs.db"
    writer = SQLiteStore(path)
    run = RunBuilder("r1").started()
    run.turn("writer", "First try, abandoned", pieces=2, finish=False)
    run.turn("writer", "Second", pieces=2, finish=False)
    record(writer, run)
    await writer.flush()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE runs SET owner = ?", (f"{socket.gethostname()}:{dead_pid()}",))
    other = SQLiteStore(path)
    ended = (await other.read_events("r1"))[-1]
    assert isinstance(ended, RunFailedEvent) and ended.partial_text == "Second"
    await other.aclose()
    await writer.aclose()
