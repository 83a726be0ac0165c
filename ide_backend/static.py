"""The built IDE (``frontend/dist``) on the same port as the API, or, if it is not built, a
page at ``/`` that says how to build it."""

from __future__ import annotations

import html
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tide IDE</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em}}
code,pre{{background:#f3f3f3;padding:.1em .3em;border-radius:4px}}pre{{padding:1em}}</style>
</head><body>
<h1>Tide IDE</h1>
<p>The server is running, but the IDE's frontend is not built. Build it once with:</p>
<pre>cd frontend
npm install
npm run build</pre>
<p>then reload this page. (Expected in <code>{dist}</code>.) The API is at <code>/api/</code>.</p>
</body></html>
"""


class SinglePageApp(StaticFiles):
    """Static files, with ``index.html`` for the IDE's own routes (``/runs/...``)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or path.startswith("api/") or "." in path.rsplit("/")[-1]:
                raise
            return await super().get_response("index.html", scope)


def frontend_routes(dist: Path) -> list[BaseRoute]:
    if (dist / "index.html").is_file():
        return [Mount("/", app=SinglePageApp(directory=dist, html=True), name="frontend")]

    async def not_built(request: Request) -> HTMLResponse:
        return HTMLResponse(NOT_BUILT.format(dist=html.escape(str(dist))))

    return [Route("/", not_built, methods=["GET"])]
