"""``create_app`` inside someone else's application: mounted at a prefix in Starlette and
FastAPI, started by the outer app's lifespan, and with ``api_only`` the run API alone."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from ide_backend import TideApp, create_app
from ide_backend.server import running_server

pytestmark = pytest.mark.anyio


async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("the user's own page")


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with running_server(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield client


async def run_hello(client: httpx.AsyncClient, prefix: str) -> dict[str, Any]:
    started = await client.post(
        f"{prefix}/api/runs", json={"path": "hello.tac", "inputs": {"name": "Ada"}, "mock": True}
    )
    assert started.status_code == 201, started.text
    run_id = started.json()["run_id"]
    events = await client.get(f"{prefix}/api/runs/{run_id}/events")
    assert events.status_code == 200
    assert "event: run_completed" in events.text
    detail = await client.get(f"{prefix}/api/runs/{run_id}")
    body: dict[str, Any] = detail.json()
    return body


async def test_mounted_in_starlette_at_a_prefix_with_the_lifespan_passed_on(
    workspace: Path, tmp_path: Path
) -> None:
    tide = create_app(workspace=workspace, frontend_dir=tmp_path / "none")
    assert isinstance(tide, TideApp)
    parent = Starlette(
        routes=[Route("/", home), Mount("/tools/tide", app=tide)], lifespan=tide.lifespan
    )
    async with serving(parent) as client:
        assert (await client.get("/")).text == "the user's own page"
        health = await client.get("/tools/tide/api/health")
        assert health.json()["ok"] is True
        detail = await run_hello(client, "/tools/tide")
        assert detail["status"] == "completed"
        assert detail["output"] == {"greeting": "Hello there, friend. This is a mocked greeting."}
        files = await client.get("/tools/tide/api/files")
        assert files.status_code == 200
        assert {f["path"] for f in files.json()["files"]} >= {"hello.tac", "essay.tac"}
    # The run was recorded in the workspace, where `tide runs` reads it.
    assert (workspace / ".tide" / "runs.db").is_file()


async def test_mounted_in_fastapi_with_its_own_lifespan_entering_tides(workspace: Path) -> None:
    tide = create_app(workspace=workspace, api_only=True)
    entered: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        entered.append("user")
        async with tide.lifespan(app):
            yield

    api = FastAPI(lifespan=lifespan)

    @api.get("/hello")
    async def hello() -> dict[str, str]:
        return {"from": "fastapi"}

    api.mount("/tide", tide)
    async with serving(api) as client:
        assert (await client.get("/hello")).json() == {"from": "fastapi"}
        detail = await run_hello(client, "/tide")
        assert detail["status"] == "completed"
    assert entered == ["user"]


async def test_api_only_serves_the_runs_and_nothing_of_the_editor(
    workspace: Path, tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html><title>IDE</title>")
    full = create_app(workspace=workspace, frontend_dir=dist)
    only = create_app(workspace=workspace, frontend_dir=dist, api_only=True)
    async with serving(full) as client:
        assert (await client.get("/")).status_code == 200
        assert (await client.get("/api/files")).status_code == 200
    async with serving(only) as client:
        for path in ("/", "/api/files", "/api/files/hello.tac", "/api/stats", "/api/models"):
            answer = await client.get(path)
            assert answer.status_code == 404, path
            assert answer.json()["error"]["code"] == "not_found"
        refused = await client.post("/api/validate", json={"source": "x"})
        assert refused.status_code == 404
        detail = await run_hello(client, "")
        assert detail["status"] == "completed"
        listed = await client.get("/api/runs")
        assert [r["id"] for r in listed.json()["runs"]] == [detail["id"]]


async def test_mounted_without_its_lifespan_it_says_what_to_do(workspace: Path) -> None:
    tide = create_app(workspace=workspace, api_only=True)
    parent = Starlette(routes=[Mount("/tide", app=tide)])
    async with serving(parent) as client:
        answer = await client.post("/tide/api/runs", json={"path": "hello.tac", "mock": True})
    assert answer.status_code == 503
    error = answer.json()["error"]
    assert error["code"] == "not_started"
    assert "lifespan=tide.lifespan" in error["message"]


def test_create_app_takes_settings_or_a_workspace_not_both(workspace: Path) -> None:
    from ide_backend.settings import Settings

    with pytest.raises(TypeError, match="needs a workspace"):
        create_app()
    with pytest.raises(TypeError, match="not both"):
        create_app(Settings(workspace=workspace), workspace=workspace)
    with pytest.raises(ValueError, match="needs a token"):
        create_app(workspace=workspace, host="0.0.0.0")


def test_the_package_exports_each_name_it_lists() -> None:
    import ide_backend

    assert sorted(ide_backend.__all__) == [
        "Settings", "TideApp", "create_app", "sse_response", "ui_message_stream_response"
    ]  # fmt: skip
    for name in ide_backend.__all__:
        assert getattr(ide_backend, name) is not None


DIST = Path(__file__).resolve().parents[2] / "frontend" / "dist"
MOUNTED_SCRIPT = DIST.parent / "e2e" / "mounted.mjs"


def _cannot(message: str) -> None:
    # CI builds the frontend and installs Chromium before the tests (scripts/test): missing
    # there, the test would pass without having looked at the page.
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


async def test_the_ide_works_mounted_below_the_root(workspace: Path) -> None:
    """The built IDE asks for everything relative to its page, so it works under a prefix."""
    import re
    import shutil

    import anyio

    if not (DIST / "index.html").is_file():
        _cannot("the frontend is not built (cd frontend && npm run build)")
    tide = create_app(workspace=workspace, frontend_dir=DIST)
    parent = Starlette(routes=[Route("/", home), Mount("/tide", app=tide)], lifespan=tide.lifespan)
    async with running_server(parent) as url, httpx.AsyncClient(base_url=url) as client:
        page = await client.get("/tide/")
        assert page.status_code == 200
        assets = re.findall(r'(?:src|href)="(\./[^"]+)"', page.text)
        assert assets, "the page names its assets relative to itself"
        for asset in assets:
            answer = await client.get(f"/tide/{asset[2:]}")
            assert answer.status_code == 200, asset
            assert b'"/api/' not in answer.content, f"{asset} asks for /api/ at the root"
        node, chromium = shutil.which("node"), os.environ.get("CHROMIUM", "/usr/bin/chromium")
        if node is None or not Path(chromium).exists():
            _cannot("needs node and Chromium to open the page")
        done = await anyio.run_process(
            [node, str(MOUNTED_SCRIPT), f"{url}/tide/", "essay.tac"], cwd=DIST.parent, check=False
        )
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout)
    assert report["errors"] == [] and report["status"] == "completed", report
    api_calls = [p for p in report["requests"] if "/api/" in p]
    assert api_calls and all(p.startswith("/tide/api/") for p in api_calls), api_calls
