"""``GET /api/stats``: alerts counted, and a time series with ``?every=``."""

from __future__ import annotations

import pytest

from tests.ide_backend.conftest import Ide
from tests.ide_backend.sse_client import follow

pytestmark = pytest.mark.anyio


async def test_series_and_alerts(ide: Ide) -> None:
    run_id = await ide.start("hello.tac", inputs={"name": "A"}, mock=True)
    await follow(ide.client, run_id)
    await ide.services.store.flush()
    answer = await ide.client.get(
        "/api/stats", params={"by": "model", "since": "24h", "mock": "1", "every": "1h"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [r["key"] for r in body["rows"]] == ["scripted/default"]
    assert body["rows"][0]["alerts"] == 0
    assert body["every"] == "1h"
    (point,) = body["series"]
    assert point["key"] == "scripted/default" and point["count"] == 1
    assert set(point["ttft_ms"]) == {"p50", "p95"}
    assert set(point["cost_usd"]) == {"p50", "p95", "sum"}
    plain = (await ide.client.get("/api/stats", params={"mock": "1"})).json()
    assert "series" not in plain
    bad = await ide.client.get("/api/stats", params={"every": "7m"})
    assert bad.status_code == 400 and "every must be one of" in bad.text
