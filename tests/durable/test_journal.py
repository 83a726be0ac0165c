"""The journal of a durable run, and resuming from it after a stop at any effect."""

from __future__ import annotations

import socket
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from runtime.api import Runtime
from runtime.events import CostEvent, RunFailedEvent, RunStartedEvent
from runtime.handlers import MemoryHandler
from runtime.models.base import Usage
from runtime.models.function import FunctionModel
from runtime.resume import NotResumable
from runtime.store import INTERRUPTED, SQLiteStore
from tests.durable.procedures import WORKFLOW, workflow_answer
from tests.store.test_store import dead_pid

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore.for_workspace(tmp_path) as opened:
        yield opened


def model() -> FunctionModel:
    return FunctionModel(workflow_answer)


def models(fm: FunctionModel) -> dict[str, FunctionModel]:
    return {"m/planner": fm, "m/writer": fm}


async def first_run(tmp_path: Path, store: SQLiteStore) -> tuple[Any, FunctionModel, Path]:
    path = tmp_path / "workflow.tac"
    path.write_text(WORKFLOW)
    fm = model()
    async with Runtime(store=store) as runtime:
        result = await runtime.run(path, models=models(fm), handlers=[MemoryHandler()])
    await store.flush()
    return result, fm, path


async def test_a_run_with_a_store_journals_each_effect(tmp_path: Path, store: SQLiteStore) -> None:
    result, fm, _ = await first_run(tmp_path, store)
    assert result.ok, result.error
    entries = await store.read_journal(result.run_id)
    kinds = [(e.kind, e.name) for e in entries]
    assert entries[0].kind == "run" and entries[0].value["text"] == WORKFLOW
    assert kinds[1:] == [
        ("model", "planner"),
        ("tool", "add"),
        ("model", "planner"),
        ("tool", "add"),
        ("procedure", "summarize"),
        ("model", "writer"),
        ("model", "writer"),
    ]
    assert len(fm.requests) == 4
    assert [e.position for e in entries] == list(range(8))
    # The sub-procedure holds the writer's call inside it.
    assert entries[5].end_position == 7 and entries[6].end_position == 7


def crash_after(db: Path, run_id: str, kept: int, extra_events: int) -> None:
    """What a process killed after writing its first ``kept`` journal entries leaves behind:
    those, the events up to the last of them, then ``extra_events`` more (the effect in flight
    had started: a turn, its first chunks)."""
    with closing(sqlite3.connect(db)) as conn, conn:
        rows = conn.execute(
            "SELECT position, seq FROM journal WHERE run_id = ? ORDER BY seq, position",
            (run_id,),
        ).fetchall()
        dropped = [position for position, _ in rows[kept:]]
        # At most the events of the effect in flight up to its completion, never beyond.
        last = rows[kept - 1][1]
        limit = rows[kept][1] if kept < len(rows) else last
        keep = min(last + extra_events, max(last, limit))
        conn.executemany(
            "DELETE FROM journal WHERE run_id = ? AND position = ?",
            [(run_id, p) for p in dropped],
        )
        conn.execute("DELETE FROM events WHERE run_id = ? AND seq > ?", (run_id, keep))
    interrupt(db, run_id)


def interrupt(db: Path, run_id: str) -> None:
    """The run's row as its killed process left it (running, owned by a process that is gone),
    then found by a process that opens the store: the run ends as interrupted."""
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "UPDATE runs SET status = 'running', error = NULL, finished_at = NULL, "
            "partial_text = NULL, totals = '{}', owner = ? WHERE id = ?",
            (f"{socket.gethostname()}:{dead_pid()}", run_id),
        )
    store = SQLiteStore(db)
    store.close()


@pytest.mark.parametrize("extra_events", [0, 2])
@pytest.mark.parametrize("kept", range(1, 8))
async def test_resume_after_any_effect_repeats_nothing(
    tmp_path: Path, store: SQLiteStore, kept: int, extra_events: int
) -> None:
    result, first, _ = await first_run(tmp_path, store)
    before = await store.read_events(result.run_id)
    crash_after(store.path, result.run_id, kept, extra_events)
    again = model()
    async with Runtime(store=store) as runtime:
        resumed = await runtime.resume(result.run_id, models=models(again))
    await store.flush()
    assert resumed.ok, resumed.error
    assert resumed.output == result.output
    assert resumed.run_id == result.run_id
    # Each model call of the first run made once in all.
    asked = [r.messages for r in first.requests]
    answered_live = [r.messages for r in again.requests]
    assert answered_live == asked[len(asked) - len(answered_live) :]
    events = await store.read_events(result.run_id)
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(seqs) + 1))
    # Every event but the in-flight call's chunks and cost, exactly once; and between the two
    # attempts, the end of the first (interrupted) and the start of the second (resumed).
    assert counted(events) == counted(before) + Counter({"run_failed:": 1, "run_started:": 1})
    [ended] = [e for e in events if e.type == "run_failed"]
    assert isinstance(ended, RunFailedEvent) and ended.error.kind == INTERRUPTED
    [resumed_start] = [e for e in events if e.type == "run_started" and e.seq > 1]
    assert isinstance(resumed_start, RunStartedEvent) and resumed_start.resumed
    assert resumed_start.seq == ended.seq + 1
    assert all(e.type != "run_completed" for e in events if e.seq < ended.seq)
    record = await store.get_run(result.run_id)
    assert record is not None and record.status == "completed"
    assert record.output == result.output


def counted(events: list[Any]) -> Counter[str]:
    return Counter(
        f"{e.type}:{getattr(e, 'stage', '')}"
        for e in events
        if e.type not in ("agent_stream_chunk", "cost")
    )


async def test_a_completed_run_is_not_resumed(tmp_path: Path, store: SQLiteStore) -> None:
    result, _, _ = await first_run(tmp_path, store)
    async with Runtime(store=store) as runtime:
        with pytest.raises(NotResumable, match="completed"):
            await runtime.resume(result.run_id)


async def test_the_call_in_flight_keeps_its_partial_text_and_estimated_cost(
    tmp_path: Path, store: SQLiteStore
) -> None:
    result, _, _ = await first_run(tmp_path, store)
    events = await store.read_events(result.run_id)
    entries = await store.read_journal(result.run_id)
    # Killed while the writer's last call streamed: its first chunks are stored, its entry not.
    last = entries[-1]
    assert last.kind == "model" and last.name == "writer"
    chunks = [
        e for e in events if e.type == "agent_stream_chunk" and entries[-2].seq < e.seq < last.seq
    ]
    assert len(chunks) >= 2
    kept = chunks[1].seq
    with closing(sqlite3.connect(store.path)) as conn, conn:
        conn.execute(
            "DELETE FROM journal WHERE run_id = ? AND position = ?", (result.run_id, last.position)
        )
        conn.execute("DELETE FROM events WHERE run_id = ? AND seq > ?", (result.run_id, kept))
    interrupt(store.path, result.run_id)
    [ended] = [e for e in await store.read_events(result.run_id) if e.type == "run_failed"]
    assert isinstance(ended, RunFailedEvent)
    streamed = "".join(e.chunk_text for e in chunks[:2])  # type: ignore[attr-defined]
    assert ended.partial_text == streamed
    again = CountingModel(workflow_answer)
    async with Runtime(store=store) as runtime:
        resumed = await runtime.resume(result.run_id, models=models(again))
    await store.flush()
    assert resumed.ok and resumed.output == result.output
    assert len(again.requests) == 1
    after = await store.read_events(result.run_id)
    [attempt] = [e for e in after if e.type == "cost" and e.finish_reason == INTERRUPTED]
    assert isinstance(attempt, CostEvent)
    assert (attempt.agent, attempt.turn) == (chunks[0].agent, chunks[0].turn)  # type: ignore[attr-defined]
    # Counted by the model's own estimate from what the call was sent and had streamed.
    assert again.estimated == [(again.requests[0].messages, streamed, 2)]
    assert attempt.usage_estimated and attempt.cost_usd == pytest.approx(0.25)
    assert (attempt.prompt_tokens, attempt.completion_tokens) == (7, 2)
    # The interrupted attempt is counted on top of what the uninterrupted run cost.
    assert resumed.totals.completion_tokens == result.totals.completion_tokens + 2
    assert resumed.totals.cost_usd == pytest.approx(result.totals.cost_usd + 0.25)
    # Its duration covers both attempts: the first up to its last stored event, then this one.
    assert ended.totals.duration_ms > 0
    assert resumed.totals.duration_ms > ended.totals.duration_ms
    record = await store.get_run(result.run_id)
    assert record is not None and record.totals.duration_ms == resumed.totals.duration_ms


class CountingModel(FunctionModel):
    """A model that estimates a call's usage as a priced model does."""

    def __init__(self, function: Any) -> None:
        super().__init__(function)
        self.estimated: list[tuple[Any, str, int]] = []

    def estimate_usage(self, messages: list[dict[str, Any]], text: str, pieces: int = 0) -> Usage:
        self.estimated.append((messages, text, pieces))
        return Usage(7, pieces, 0.25, estimated=True)
