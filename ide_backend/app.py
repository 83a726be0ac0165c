"""The IDE server's Starlette application: ``create_app(...)``.

One ``Runtime``, one execution store and one run manager live for the app's lifetime (opened in
its lifespan); everything is under ``/api/``, and the built frontend is served on the same
port. ``api_only=True`` leaves out the editor: no frontend, files, validation or stats, only
the runs, their event streams and the health check.

Starlette (and FastAPI) run only the outer application's lifespan, not a mounted one's, so an
app mounted in another is started by that one's lifespan: ``Starlette(routes=[Mount("/tide",
tide)], lifespan=tide.lifespan)``. Until it is, its routes answer 503 saying so.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from ide_backend import files, procedures, runs_api, runs_durable, sse, stats, ui_stream
from ide_backend.catalog import Catalog
from ide_backend.errors import EXCEPTION_HANDLERS
from ide_backend.runs import RunManager
from ide_backend.security import SecurityMiddleware
from ide_backend.services import Services
from ide_backend.settings import Settings, is_loopback
from ide_backend.static import frontend_routes
from ide_backend.validator import Validator
from ide_backend.workspace import Workspace
from runtime import __version__
from runtime.api import Runtime
from runtime.executor import ExecutorPool
from runtime.store import default_store_path
from runtime.store.opening import open_history


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, "version": __version__})


class TideApp(Starlette):
    """The IDE server's application. ``lifespan`` starts and stops its services: Starlette
    calls it when this app is the outer one; an app that mounts this one passes it on as its
    own lifespan (or enters ``tide.lifespan(app)`` inside its own)."""

    lifespan: Callable[[Any], AbstractAsyncContextManager[None]]


def create_app(
    settings: Settings | None = None,
    *,
    workspace: str | os.PathLike[str] | None = None,
    api_only: bool = False,
    **options: Any,
) -> TideApp:
    """The application, for ``settings``, or for ``workspace`` (a folder of procedures, where
    runs are recorded in ``.tide/runs.db``) with any other ``Settings`` field as a keyword.
    ``api_only`` serves only the run API (no editor, no file routes)."""
    if settings is None:
        if workspace is None:
            raise TypeError("create_app needs a workspace (or Settings)")
        settings = Settings(workspace=Path(workspace), **options)
    elif workspace is not None or options:
        raise TypeError("give create_app either Settings or workspace= and options, not both")
    if settings.token is not None and not settings.token.strip():
        raise ValueError("an empty token would let anyone in: give a token, or none on loopback")
    if settings.token is None and not is_loopback(settings.host):
        raise ValueError(f"binding {settings.host} needs a token; without one, bind 127.0.0.1")
    if not settings.workspace.is_dir():
        raise ValueError(f"the workspace {settings.workspace} is not a directory")
    config = settings

    @asynccontextmanager
    async def lifespan(_: Any = None) -> AsyncIterator[None]:
        # The state is this app's, whichever app's lifespan runs this: requests reach the
        # routes through this app, which puts itself in their scope.
        if getattr(app.state, "services", None) is not None:
            raise RuntimeError("this Tide app is already started")
        workspace = Workspace(config.workspace, max_bytes=config.max_body_bytes)
        # A history that cannot be written is served read-only: runs are refused, saying why.
        store = open_history(default_store_path(config.workspace))
        try:
            async with (
                Runtime(config.runtime) as runtime,
                (
                    ExecutorPool(models=True, runs_per_executor=config.runs_per_executor)
                    if config.executors
                    else nullcontext(None)
                ) as executors,
                RunManager(
                    runtime,
                    store,
                    max_concurrent=config.max_concurrent,
                    max_backlog=config.max_backlog,
                    # Executors call the models: the server itself needs no model client.
                    load_models=not config.executors,
                    executors=executors,
                ) as manager,
                Catalog(
                    workspace,
                    # A file's top level is cut short as a run's would be.
                    timeout_s=min(config.runtime.inspect_timeout_s, config.runtime.timeout_s),
                    validator=(validator := Validator(config.runtime, executors)),
                ) as catalog,
            ):
                app.state.services = Services(
                    settings=config,
                    workspace=workspace,
                    catalog=catalog,
                    store=store,
                    runtime=runtime,
                    manager=manager,
                    validator=validator,
                )
                yield
        finally:
            app.state.services = None
            await store.aclose()

    routes: list[BaseRoute] = [
        Route("/api/health", health, methods=["GET"]),
        *ui_stream.routes,
        *runs_api.routes,
        *runs_durable.routes,
        *sse.routes,
    ]
    if not api_only:
        routes += [
            *files.routes,
            *procedures.routes,
            *stats.routes,
            *frontend_routes(settings.frontend_dir),
        ]
    app = TideApp(
        routes=routes,
        middleware=[
            Middleware(
                SecurityMiddleware,
                token=settings.token,
                loopback_only=is_loopback(settings.host),
            )
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.lifespan = lifespan
    return app
