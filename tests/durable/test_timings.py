"""The timings a resumed run gives its turns: a call answered from the journal counts the time
it took when it was made, and the call in flight at the stop counts what is stored of it."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import anyio
import pytest

from runtime.api import Runtime
from runtime.events import AgentStreamChunkEvent, AgentTurnEvent, CostEvent
from runtime.models.base import ModelItem, ModelRequest
from runtime.models.function import FunctionModel
from runtime.run_result import RunResult
from runtime.store import INTERRUPTED, SQLiteStore
from tests.durable.procedures import WORKFLOW, workflow_answer
from tests.durable.test_journal import interrupt, models

pytestmark = pytest.mark.anyio

# Every call waits this long before its first text.
WAIT_S = 0.2


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore.for_workspace(tmp_path) as opened:
        yield opened


async def slow_answer(request: ModelRequest) -> str | list[ModelItem]:
    await anyio.sleep(WAIT_S)
    return workflow_answer(request)


async def slow_run(tmp_path: Path, store: SQLiteStore) -> RunResult:
    path = tmp_path / "workflow.tac"
    path.write_text(WORKFLOW)
    async with Runtime(store=store) as runtime:
        result = await runtime.run(path, models=models(FunctionModel(slow_answer)))
    await store.flush()
    assert result.ok, result.error
    return result


async def test_a_replayed_turn_counts_the_time_its_call_took_when_it_was_made(
    tmp_path: Path, store: SQLiteStore
) -> None:
    result = await slow_run(tmp_path, store)
    entries = await store.read_journal(result.run_id)
    last = entries[-1]
    assert last.kind == "model" and last.name == "writer"
    timing = last.extra["timing"]
    assert timing["ended_ms"] >= timing["first_text_ms"] >= WAIT_S * 1000
    # Killed after the writer's last call was journaled, before its turn's cost was stored.
    with closing(sqlite3.connect(store.path)) as conn, conn:
        conn.execute("DELETE FROM events WHERE run_id = ? AND seq > ?", (result.run_id, last.seq))
    interrupt(store.path, result.run_id)

    again = FunctionModel(slow_answer)
    async with Runtime(store=store) as runtime:
        resumed = await runtime.resume(result.run_id, models=models(again))
    await store.flush()
    assert resumed.ok and resumed.output == result.output
    assert again.requests == []  # every call came from the journal, at once
    after = [e for e in await store.read_events(result.run_id) if e.seq > last.seq]
    [cost] = [e for e in after if isinstance(e, CostEvent)]
    [turn] = [e for e in after if isinstance(e, AgentTurnEvent) and e.stage == "completed"]
    assert cost.agent == turn.agent == "writer"
    # The call's own figures, not the instant of its replay.
    assert cost.time_to_first_token_ms == pytest.approx(timing["first_text_ms"] - timing["sent_ms"])
    for duration in (cost.duration_ms, turn.duration_ms):
        assert duration is not None and duration >= timing["ended_ms"]
    for first in (cost.first_visible_token_ms, turn.first_visible_token_ms):
        assert first is not None and first >= timing["first_text_ms"]


async def test_the_call_in_flight_counts_the_time_stored_of_it(
    tmp_path: Path, store: SQLiteStore
) -> None:
    result = await slow_run(tmp_path, store)
    events = await store.read_events(result.run_id)
    entries = await store.read_journal(result.run_id)
    last = entries[-1]
    # Killed while the writer's last call streamed: its turn began and streamed two chunks.
    window = [e for e in events if max(x.seq for x in entries[:-1]) < e.seq < last.seq]
    [began] = [e for e in window if isinstance(e, AgentTurnEvent) and e.stage == "started"]
    chunks = [e for e in window if isinstance(e, AgentStreamChunkEvent)]
    with closing(sqlite3.connect(store.path)) as conn, conn:
        conn.execute(
            "DELETE FROM journal WHERE run_id = ? AND position = ?", (result.run_id, last.position)
        )
        conn.execute(
            "DELETE FROM events WHERE run_id = ? AND seq > ?", (result.run_id, chunks[1].seq)
        )
    interrupt(store.path, result.run_id)
    async with Runtime(store=store) as runtime:
        resumed = await runtime.resume(result.run_id, models=models(FunctionModel(slow_answer)))
    await store.flush()
    assert resumed.ok, resumed.error
    after = await store.read_events(result.run_id)
    [attempt] = [e for e in after if isinstance(e, CostEvent) and e.finish_reason == INTERRUPTED]
    # From its turn's start to its last stored chunk: at least the wait for its first text.
    assert attempt.duration_ms == pytest.approx((chunks[1].ts - began.ts).total_seconds() * 1000)
    assert attempt.duration_ms >= WAIT_S * 1000
    assert attempt.first_visible_token_ms == pytest.approx(
        (chunks[0].ts - began.ts).total_seconds() * 1000
    )
    assert attempt.time_to_first_token_ms is None  # when its request left is not stored
