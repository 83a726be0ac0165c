"""Run tags in the store: kept with the run, filtered in listings and analytics, and added to a
store written before tags existed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from runtime.events import LogEvent
from runtime.store import SQLiteStore, StoreHandler, default_store_path
from tests.store.events import T0, RunBuilder

pytestmark = pytest.mark.anyio


def _tagged(run_id: str, tags: dict[str, str], model: str = "m/one") -> RunBuilder:
    run = RunBuilder(run_id, "p.tac", T0).started()
    run.events[0] = run.events[0].model_copy(update={"tags": tags})
    return run.turn("a", "hello", model=model, ttft_ms=50).completed()


async def test_tags_are_stored_and_filter_runs_and_stats(tmp_path: Path) -> None:
    async with SQLiteStore.for_workspace(tmp_path) as store:
        handler = StoreHandler(store)
        for run in (
            _tagged("r1", {"team": "search", "env": "prod"}),
            _tagged("r2", {"team": "search", "env": "dev"}),
            _tagged("r3", {"team": "ads"}, model="m/two"),
            _tagged("r4", {}),
        ):
            for event in run.events:
                handler.log(event)
        await store.flush()
        record = await store.get_run("r1")
        assert record is not None and record.tags == {"team": "search", "env": "prod"}
        assert record.summary()["tags"] == {"team": "search", "env": "prod"}
        search = await store.list_runs(tags={"team": "search"})
        assert sorted(r.id for r in search) == ["r1", "r2"]
        both = await store.list_runs(tags={"team": "search", "env": "dev"})
        assert [r.id for r in both] == ["r2"]
        assert await store.list_runs(tags={"team": "nobody"}) == []
        assert len(await store.list_runs()) == 4
        rows = await store.stats("model", since=None, tags={"team": "search"})
        assert [(r.key, r.count) for r in rows] == [("m/one", 2)]
        by_procedure = await store.stats("procedure", since=None, tags={"team": "ads"})
        assert [(r.key, r.count) for r in by_procedure] == [("p.tac", 1)]


async def test_alerts_are_counted_per_key(tmp_path: Path) -> None:
    async with SQLiteStore.for_workspace(tmp_path) as store:
        handler = StoreHandler(store)
        run = _tagged("r1", {"team": "search"})
        completed = run.events.pop()
        for metric in ("ttft_ms", "cost_usd"):
            run.seq += 1
            run.events.append(
                LogEvent(
                    run_id="r1",
                    seq=run.seq,
                    ts=T0,
                    level="warn",
                    message="alert",
                    source="alert",
                    fields={"alert": metric, "agent": "a", "model": "m/one"},
                )
            )
        run.events.append(completed.model_copy(update={"seq": run.seq + 1}))
        for event in run.events:
            handler.log(event)
        await store.flush()
        (row,) = await store.stats("model", since=None)
        assert (row.key, row.alerts) == ("m/one", 2)
        assert row.to_json()["alerts"] == 2
        (agent,) = await store.stats("agent", since=None)
        assert (agent.key, agent.alerts) == ("a", 2)
        (other,) = await store.stats("model", since=None, tags={"team": "search"})
        assert other.alerts == 2
        assert await store.stats("model", since=None, tags={"team": "ads"}) == []


async def test_a_store_without_tags_is_migrated(tmp_path: Path) -> None:
    path = default_store_path(tmp_path)
    async with SQLiteStore(path) as store:
        handler = StoreHandler(store)
        old = _tagged("old", {})
        old.events.insert(
            -1,
            LogEvent(run_id="old", seq=99, ts=T0, level="warn", message="slow",
                     source="alert", fields={"alert": "ttft_ms", "agent": "a", "model": "m/one"}),
        )  # fmt: skip
        for event in old.events:
            handler.log(event)
    # The previous schema: no tags column, no alerts table.
    conn = sqlite3.connect(path)
    conn.executescript(
        "ALTER TABLE runs DROP COLUMN tags; DROP TABLE alerts; PRAGMA user_version = 2;"
    )
    conn.close()
    async with SQLiteStore(path) as store:
        record = await store.get_run("old")
        assert record is not None and record.tags == {}
        (row,) = await store.stats("model", since=None)
        assert row.alerts == 1
        handler = StoreHandler(store)
        for event in _tagged("new", {"team": "x"}).events:
            handler.log(event)
        await store.flush()
        assert [r.id for r in await store.list_runs(tags={"team": "x"})] == ["new"]
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 4
    conn.close()
