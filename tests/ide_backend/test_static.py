from __future__ import annotations

from pathlib import Path

import pytest

from tests.ide_backend.conftest import IdeFactory

pytestmark = pytest.mark.anyio


async def test_the_built_frontend_is_served_on_the_same_port(
    make_ide: IdeFactory, tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>Tide</title><div id=root></div>")
    (dist / "assets" / "app.js").write_text("console.log('tide')")
    async with make_ide(frontend_dir=dist) as ide:
        root = await ide.client.get("/")
        assert root.status_code == 200 and "<title>Tide</title>" in root.text
        asset = await ide.client.get("/assets/app.js")
        assert asset.status_code == 200 and "javascript" in asset.headers["content-type"]
        # The IDE's own routes load the app; missing files and API paths stay 404.
        assert "<title>Tide</title>" in (await ide.client.get("/runs/abc123")).text
        assert (await ide.client.get("/assets/missing.js")).status_code == 404
        missing_api = await ide.client.get("/api/nothing")
        assert missing_api.status_code == 404
        assert missing_api.json()["error"]["code"] == "not_found"
        assert (await ide.client.get("/api/health")).json()["ok"] is True
