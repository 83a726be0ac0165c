"""Run tags through the IDE's API: given when a run starts, filtered in history and stats."""

from __future__ import annotations

import pytest

from tests.ide_backend.conftest import Ide
from tests.ide_backend.sse_client import follow

pytestmark = pytest.mark.anyio


async def test_runs_carry_tags_and_filter_by_them(ide: Ide) -> None:
    ids = {}
    for team in ("search", "ads"):
        ids[team] = await ide.start(
            "hello.tac", inputs={"name": "A"}, mock=True, tags={"team": team}
        )
        await follow(ide.client, ids[team])
    detail = (await ide.client.get(f"/api/runs/{ids['search']}")).json()
    assert detail["tags"] == {"team": "search"}
    listed = (await ide.client.get("/api/runs", params={"tag": "team=search"})).json()["runs"]
    assert [r["id"] for r in listed] == [ids["search"]]
    await ide.services.store.flush()
    stats = await ide.client.get(
        "/api/stats", params={"by": "procedure", "mock": "1", "tag": "team=ads"}
    )
    assert [(r["key"], r["count"]) for r in stats.json()["rows"]] == [("hello.tac", 1)]

    bad = await ide.client.get("/api/runs", params={"tag": "team"})
    assert bad.status_code == 400 and "KEY=VALUE" in bad.text
    refused = await ide.client.post(
        "/api/runs",
        json={"path": "hello.tac", "inputs": {"name": "A"}, "mock": True, "tags": {"bad key": "x"}},
    )
    assert refused.status_code == 400 and "bad tag key" in refused.text
