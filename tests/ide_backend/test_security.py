from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ide_backend.app import create_app
from ide_backend.settings import Settings
from tests.ide_backend.conftest import Ide, IdeFactory

pytestmark = pytest.mark.anyio

TOKEN = "s3cret-token"


async def test_a_configured_token_is_required_on_every_request(make_ide: IdeFactory) -> None:
    async with make_ide(token=TOKEN) as ide, httpx.AsyncClient(base_url=ide.url) as anonymous:
        for method, path in [
            ("GET", "/api/health"),
            ("GET", "/api/files"),
            ("GET", "/api/files/hello.tac"),
            ("POST", "/api/runs"),
            ("GET", "/api/runs/x/events"),
            ("GET", "/"),
            ("GET", "/assets/app.js"),
        ]:
            refused = await anonymous.request(method, path)
            assert refused.status_code == 401, path
            assert refused.json()["error"]["code"] == "unauthorized"

        assert (await ide.client.get("/api/health")).json()["ok"] is True  # Bearer header
        by_header = await anonymous.get("/api/files", headers={"X-Tide-Token": TOKEN})
        assert by_header.status_code == 200
        wrong = await anonymous.get("/api/files", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert (await anonymous.get("/?token=nope")).status_code == 401


async def test_opening_the_printed_url_sets_a_strict_cookie(make_ide: IdeFactory) -> None:
    async with make_ide(token=TOKEN) as ide, httpx.AsyncClient(base_url=ide.url) as browser:
        login = await browser.get(f"/?token={TOKEN}")
        assert login.status_code == 303
        assert login.headers["location"] == "/"
        cookie = login.headers["set-cookie"].lower()
        assert "tide_token=" in cookie
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        # httpx keeps the cookie, as a browser would.
        assert (await browser.get("/api/files")).status_code == 200
        page = await browser.get("/")
        assert page.status_code == 200 and "npm run build" in page.text


def test_binding_off_loopback_needs_a_token(workspace: Path) -> None:
    with pytest.raises(ValueError, match="needs a token"):
        create_app(Settings(workspace=workspace, host="0.0.0.0"))
    create_app(Settings(workspace=workspace, host="0.0.0.0", token=TOKEN))


async def test_without_a_token_only_loopback_host_names_are_answered(ide: Ide) -> None:
    rebound = await ide.client.get("/api/files", headers={"Host": "evil.example:8765"})
    assert rebound.status_code == 403
    for host in ("localhost:8765", "127.0.0.1:9", "[::1]:8765"):
        assert (await ide.client.get("/api/health", headers={"Host": host})).status_code == 200


async def test_cross_site_writes_are_refused_and_there_is_no_cors(ide: Ide) -> None:
    cross = await ide.client.post(
        "/api/files",
        json={"path": "x.tac", "content": "-- x"},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    same = await ide.client.post(
        "/api/files",
        json={"path": "x.tac", "content": "-- x"},
        headers={"Origin": ide.url},
    )
    assert same.status_code == 201
    preflight = await ide.client.options(
        "/api/files",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    health = await ide.client.get("/api/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in health.headers
    assert health.headers["x-content-type-options"] == "nosniff"


async def test_errors_are_json_without_tracebacks(ide: Ide) -> None:
    for response in [
        await ide.client.get("/api/nothing-here"),
        await ide.client.delete("/api/health"),
        await ide.client.get("/api/runs/nope"),
        await ide.client.get("/api/runs/nope/events"),
        await ide.client.get("/api/runs?limit=0"),
        await ide.client.get("/api/runs?status=sleeping"),
        await ide.client.get("/api/stats?by=colour"),
        await ide.client.get("/api/stats?since=1y"),
    ]:
        assert response.status_code in (400, 404, 405), response.text
        body = response.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
        assert body["error"]["message"]


async def test_without_a_built_frontend_the_root_says_how_to_build_it(ide: Ide) -> None:
    page = await ide.client.get("/")
    assert page.status_code == 200
    assert "npm run build" in page.text


def test_an_empty_token_is_refused(workspace: Path) -> None:
    for token in ("", "  "):
        with pytest.raises(ValueError, match="empty token"):
            create_app(Settings(workspace=workspace, host="0.0.0.0", token=token))
        with pytest.raises(ValueError, match="empty token"):
            create_app(Settings(workspace=workspace, token=token))


async def test_on_loopback_the_host_check_stays_on_with_a_token(make_ide: IdeFactory) -> None:
    async with make_ide(token=TOKEN) as ide:
        rebound = await ide.client.get("/api/files", headers={"Host": "evil.example:8765"})
        assert rebound.status_code == 403
        assert (await ide.client.get("/api/files")).status_code == 200
