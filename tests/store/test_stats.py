from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from runtime.store import SQLiteStore, StoreHandler
from tests.store.events import T0, RunBuilder

pytestmark = pytest.mark.anyio

NOW = T0 + timedelta(days=1)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    """Known data: model m/fast answers 20 turns (ttft 1..20 ms, agent "a"), m/slow 4 turns
    (agent "b"), one m/fast turn is three days old, and one run is a mock run."""
    async with SQLiteStore.for_workspace(tmp_path) as opened:
        runs: list[tuple[RunBuilder, bool]] = []
        for i in range(1, 21):
            run = RunBuilder(f"fast{i}", "fast.tac", T0 + timedelta(minutes=i)).started()
            run.turn("a", "x", model="m/fast", ttft_ms=i, duration_ms=10 * i, tokens=i, cost=0.5)
            runs.append((run.completed(duration_ms=100 * i), False))
        for i, ttft in enumerate((400, 100, 300, 200), start=1):
            run = RunBuilder(f"slow{i}", "slow.tac", T0 + timedelta(minutes=i)).started()
            # A tool round came first: the text showed a second after the turn started.
            run.turn(
                "b",
                "x",
                model="m/slow",
                ttft_ms=ttft,
                duration_ms=ttft * 2,
                tokens=100,
                first_visible_ms=ttft + 1000,
            )
            runs.append((run.completed(duration_ms=5000), False))
        old = RunBuilder("old", "fast.tac", T0 - timedelta(days=2)).started()
        old.turn("a", "x", model="m/fast", ttft_ms=9999, duration_ms=9999, tokens=9999, cost=99)
        runs.append((old.completed(), False))
        mock = RunBuilder("mock", "fast.tac", T0).started()
        mock.turn("a", "x", model="m/fast", ttft_ms=0.1, cost=0)
        runs.append((mock.completed(), True))
        unfinished = RunBuilder("going", "slow.tac", T0).started()
        runs.append((unfinished, False))
        for run, is_mock in runs:
            handler = StoreHandler(opened, mock=is_mock)
            for event in run.events:
                handler.log(event)
        await opened.flush()
        yield opened


async def test_by_model_over_a_window(store: SQLiteStore) -> None:
    rows = await store.stats("model", since=timedelta(days=1, hours=1), now=NOW)
    assert [r.key for r in rows] == ["m/fast", "m/slow"]
    fast, slow = rows
    assert fast.count == 20
    assert fast.ttft_ms.avg == pytest.approx(10.5)
    # Nearest rank: p50 of 1..20 is the 10th value, p95 the 19th.
    assert (fast.ttft_ms.p50, fast.ttft_ms.p95) == (10, 19)
    assert (fast.duration_ms.p50, fast.duration_ms.p95) == (100, 190)
    assert (fast.total_tokens.avg, fast.total_tokens.p50) == (10.5, 10)
    assert fast.cost_usd.avg == pytest.approx(0.5)
    assert fast.cost_sum == pytest.approx(10.0)
    assert slow.count == 4
    assert slow.ttft_ms.avg == 250
    # Of 100, 200, 300, 400: p50 is the 2nd value, p95 the 4th.
    assert (slow.ttft_ms.p50, slow.ttft_ms.p95) == (200, 400)
    # What a person waited for, from the turn's start across its tool round.
    assert (slow.first_visible_ms.p50, slow.first_visible_ms.p95) == (1200, 1400)
    assert slow.to_json()["first_visible_token_ms"]["avg"] == 1250
    assert fast.first_visible_ms.avg is None  # not reported by those turns
    assert slow.to_json()["cost_usd"] == {
        "avg": pytest.approx(0.01),
        "p50": pytest.approx(0.01),
        "p95": pytest.approx(0.01),
        "sum": pytest.approx(0.04),
    }


async def test_all_time_includes_old_turns_and_mock_runs_only_when_asked(
    store: SQLiteStore,
) -> None:
    fast = (await store.stats("model", now=NOW))[0]
    assert fast.count == 21
    assert fast.cost_sum == pytest.approx(10.0 + 99)
    with_mock = (await store.stats("model", include_mock=True, now=NOW))[0]
    assert with_mock.count == 22


async def test_by_agent(store: SQLiteStore) -> None:
    rows = {r.key: r for r in await store.stats("agent", since=timedelta(days=1, hours=1), now=NOW)}
    assert set(rows) == {"a", "b"}
    assert rows["a"].count == 20
    assert rows["b"].duration_ms.avg == 500


async def test_by_procedure_counts_finished_runs(store: SQLiteStore) -> None:
    rows = {
        r.key: r for r in await store.stats("procedure", since=timedelta(days=1, hours=1), now=NOW)
    }
    assert rows["fast.tac"].count == 20
    assert (rows["fast.tac"].duration_ms.p50, rows["fast.tac"].duration_ms.p95) == (1000, 1900)
    # Run-level time to first token: from run_started to the first chunk (2 ms here).
    assert rows["fast.tac"].ttft_ms.p50 == pytest.approx(2)
    # A run's first streamed token is the first a person sees of it.
    assert rows["fast.tac"].first_visible_ms.p50 == pytest.approx(2)
    assert rows["slow.tac"].count == 4  # the unfinished run is left out
    assert rows["slow.tac"].total_tokens.avg == 100


async def test_nothing_in_the_window(store: SQLiteStore) -> None:
    assert await store.stats("model", since=timedelta(hours=1), now=NOW + timedelta(days=9)) == []
