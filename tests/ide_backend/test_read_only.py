"""A run history the IDE cannot write: served read-only, runs refused, saying what to do."""

from __future__ import annotations

import sqlite3

import pytest

from runtime.store import SQLiteStore
from tests.ide_backend.conftest import IdeFactory
from tests.ide_backend.sse_client import follow

pytestmark = pytest.mark.anyio


async def test_the_ide_serves_a_read_only_history_and_refuses_runs(
    make_ide: IdeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with make_ide() as ide:
        run_id = await ide.start("hello.tac", inputs={"name": "Ada"}, mock=True)
        done = await follow(ide.client, run_id)
        assert done.types[-1] == "run_completed"

    def read_only(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(SQLiteStore, "__init__", read_only)
    async with make_ide() as ide:
        assert ide.services.store.readonly
        listed = (await ide.client.get("/api/runs")).json()["runs"]
        assert [r["id"] for r in listed] == [run_id]
        assert (await ide.client.get(f"/api/runs/{run_id}")).json()["status"] == "completed"
        replayed = await follow(ide.client, run_id)
        assert replayed.types[0] == "run_started" and replayed.types[-1] == "run_completed"
        for path, body in (
            ("/api/runs", {"path": "hello.tac", "inputs": {"name": "Bo"}, "mock": True}),
            (f"/api/runs/{run_id}/resume", None),
            (f"/api/runs/{run_id}/answer", {"request_id": "x", "value": True}),
        ):
            refused = await ide.client.post(path, json=body)
            assert refused.status_code == 409, (path, refused.text)
            error = refused.json()["error"]
            assert error["code"] == "read_only"
            assert "is read-only" in error["message"] and "chmod u+w" in error["message"]
