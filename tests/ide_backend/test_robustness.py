"""Bad input to the IDE's API is answered with a 4xx in the JSON error shape, never a 500, and
nothing a procedure stored can break the history."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import anyio
import pytest

from runtime.store import default_store_path
from tests.ide_backend.conftest import Ide, IdeFactory

pytestmark = pytest.mark.anyio


async def test_numbers_json_has_not_in_the_history_do_not_break_the_api(
    make_ide: IdeFactory, workspace: Path
) -> None:
    """A history written before inputs were checked still reads as valid JSON."""
    async with make_ide() as ide:
        run_id = await ide.start("hello.tac", mock=True, inputs={"name": "Ada"})
        for _ in range(200):
            detail = (await ide.client.get(f"/api/runs/{run_id}")).json()
            if detail["status"] not in ("queued", "running"):
                break
            await anyio.sleep(0.05)
    with sqlite3.connect(default_store_path(workspace)) as conn:
        conn.execute("""UPDATE runs SET inputs = '{"x": NaN}', output = '{"y": -Infinity}'""")
    async with make_ide() as ide:
        listing = await ide.client.get("/api/runs")
        assert listing.status_code == 200
        (run,) = json.loads(listing.text, parse_constant=pytest.fail)["runs"]
        assert run["inputs"] == {"x": None}
        page = await ide.client.get(f"/api/runs/{run_id}")
        assert page.status_code == 200
        json.loads(page.text, parse_constant=pytest.fail)


async def test_a_nan_input_is_refused(ide: Ide) -> None:
    response = await ide.client.post(
        "/api/runs",
        content='{"path": "hello.tac", "inputs": {"name": NaN}, "mock": true}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code in (400, 422), response.text
    assert set(response.json()) == {"error"}
