"""The IDE server's Starlette application: ``create_app(settings)``.

One ``Runtime``, one execution store and one run manager live for the server's lifetime
(opened in the lifespan); everything is under ``/api/``, and the built frontend is served on
the same port.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from ide_backend import files, procedures, runs_api, sse, stats
from ide_backend.catalog import Catalog
from ide_backend.errors import EXCEPTION_HANDLERS
from ide_backend.runs import RunManager
from ide_backend.security import SecurityMiddleware
from ide_backend.services import Services
from ide_backend.settings import Settings, is_loopback
from ide_backend.static import frontend_routes
from ide_backend.workspace import Workspace
from runtime import __version__
from runtime.api import Runtime
from runtime.store import SQLiteStore

# The real-model client (DSPy and LiteLLM) takes seconds to import: done in a thread at start
# rather than in the event loop on the first run, where it would stall every stream.
PRELOAD = ("runtime.models.llm", "litellm")
# Validation executes procedure code in threads; a few at a time is plenty for one editor.
VALIDATION_THREADS = 4


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, "version": __version__})


def create_app(settings: Settings) -> Starlette:
    if settings.token is None and not is_loopback(settings.host):
        raise ValueError(f"binding {settings.host} needs a token; without one, bind 127.0.0.1")
    if not settings.workspace.is_dir():
        raise ValueError(f"the workspace {settings.workspace} is not a directory")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        workspace = Workspace(settings.workspace, max_bytes=settings.max_body_bytes)
        limiter = anyio.CapacityLimiter(VALIDATION_THREADS)
        store = SQLiteStore.for_workspace(settings.workspace)
        try:
            async with (
                Runtime(settings.runtime) as runtime,
                RunManager(
                    runtime,
                    store,
                    max_concurrent=settings.max_concurrent,
                    max_backlog=settings.max_backlog,
                    retain_finished=settings.retain_finished,
                    preload=PRELOAD,
                ) as manager,
            ):
                app.state.services = Services(
                    settings=settings,
                    workspace=workspace,
                    catalog=Catalog(
                        workspace, timeout_s=settings.runtime.inspect_timeout_s, limiter=limiter
                    ),
                    store=store,
                    runtime=runtime,
                    manager=manager,
                    validation_limiter=limiter,
                )
                yield
        finally:
            app.state.services = None
            await store.aclose()

    routes: list[BaseRoute] = [
        Route("/api/health", health, methods=["GET"]),
        *files.routes,
        *procedures.routes,
        *runs_api.routes,
        *sse.routes,
        *stats.routes,
        *frontend_routes(settings.frontend_dir),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityMiddleware, token=settings.token)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
