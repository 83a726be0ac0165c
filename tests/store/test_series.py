"""Analytics over time: p50/p95 time to first token and cost per key and time bucket."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from runtime.store import SQLiteStore, StoreHandler
from tests.store.events import T0, RunBuilder
from tests.test_cli import tide

pytestmark = pytest.mark.anyio


async def _fill(store: SQLiteStore) -> None:
    """m/a: hour 0 has ttft 10..50 ms (cost 0.1 each), hour 2 has 100 and 300 ms (cost 1, 3);
    m/b: one turn in hour 0. A mock run in hour 0 and a run tagged env=prod in hour 2."""
    handler = StoreHandler(store)
    turns = [("m/a", 0, t, 0.1) for t in (10, 20, 30, 40, 50)]
    turns += [("m/a", 2, 100, 1.0), ("m/a", 2, 300, 3.0), ("m/b", 0, 7, 0.5)]
    for index, (model, hour, ttft, cost) in enumerate(turns):
        run = RunBuilder(f"r{index}", start=T0 + timedelta(hours=hour, minutes=index)).started()
        if index == 6:
            run.events[0] = run.events[0].model_copy(update={"tags": {"env": "prod"}})
        run.turn("a", "x", model=model, ttft_ms=ttft, cost=cost)
        for event in run.completed().events:
            handler.log(event)
    mock = RunBuilder("mock", start=T0).started().turn("a", "x", model="m/a", ttft_ms=9999)
    mock_handler = StoreHandler(store, mock=True)
    for event in mock.completed().events:
        mock_handler.log(event)
    await store.flush()


async def test_hourly_points_per_model(tmp_path: Path) -> None:
    async with SQLiteStore.for_workspace(tmp_path) as store:
        await _fill(store)
        points = await store.series("model", every=timedelta(hours=1), since=None)
        summary = [(p.key, p.start - T0, p.count) for p in points]
        assert summary == [
            ("m/a", timedelta(0), 5),
            ("m/b", timedelta(0), 1),
            ("m/a", timedelta(hours=2), 2),
        ]
        first, _, later = points
        assert (first.ttft_ms.p50, first.ttft_ms.p95) == (30, 50)
        assert (first.cost_usd.p50, first.cost_usd.p95) == (0.1, 0.1)
        assert first.cost_sum == pytest.approx(0.5)
        assert (later.ttft_ms.p50, later.ttft_ms.p95) == (100, 300)
        assert later.cost_sum == pytest.approx(4.0)
        assert later.to_json()["start"] == (T0 + timedelta(hours=2)).isoformat()

        daily = await store.series("model", every=timedelta(days=1), since=None)
        assert [(p.key, p.count) for p in daily] == [("m/a", 7), ("m/b", 1)]
        with_mock = await store.series(
            "model", every=timedelta(days=1), since=None, include_mock=True
        )
        assert [(p.key, p.count) for p in with_mock] == [("m/a", 8), ("m/b", 1)]
        tagged = await store.series(
            "model", every=timedelta(hours=1), since=None, tags={"env": "prod"}
        )
        assert [(p.key, p.count, p.ttft_ms.p50) for p in tagged] == [("m/a", 1, 300)]
        recent = await store.series(
            "model", every=timedelta(hours=1), since=timedelta(hours=1), now=T0 + timedelta(hours=3)
        )
        assert [p.start - T0 for p in recent] == [timedelta(hours=2)]
        by_procedure = await store.series("procedure", every=timedelta(hours=1), since=None)
        assert [(p.key, p.count) for p in by_procedure] == [("p.tac", 6), ("p.tac", 2)]


def test_tide_stats_every(tmp_path: Path) -> None:
    import anyio

    async def fill() -> None:
        async with SQLiteStore.for_workspace(tmp_path) as store:
            await _fill(store)

    anyio.run(fill)
    table = tide(tmp_path, "stats", "--since", "all", "--every", "1h")
    assert table.returncode == 0, table.stderr
    assert "first token p50/p95" in table.stdout and "30 ms / 50 ms" in table.stdout
    assert "100 ms / 300 ms" in table.stdout
    data = tide(tmp_path, "stats", "--since", "all", "--every", "1d", "--json")
    payload = __import__("json").loads(data.stdout)
    assert payload["every"] == "1d" and [p["count"] for p in payload["series"]] == [7, 1]
    bad = tide(tmp_path, "stats", "--every", "soon")
    assert bad.returncode == 2 and "--every" in bad.stderr
