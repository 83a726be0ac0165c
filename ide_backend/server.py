"""Serving the application with uvicorn: in the foreground (``tide ide``) or inside a caller's
event loop (tests, benchmarks)."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import uvicorn
from starlette.types import ASGIApp

from runtime.listen import tcp_listener

STARTUP_TIMEOUT_S = 30.0
KEEP_ALIVE_S = 65


def bind(host: str, port: int) -> socket.socket:
    """The listening socket. Binding before uvicorn starts turns a busy port into an OSError
    for the caller (instead of uvicorn exiting the process) and tells an ephemeral port."""
    return tcp_listener(host, port)


def url_for(host: str, port: int) -> str:
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    return f"http://{shown}:{port}"


def make_server(app: ASGIApp, *, log_level: str = "warning") -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=3,
        # An idle connection that the server closes just as the client reuses it fails that
        # request; keeping idle connections longer than uvicorn's 5 s makes this rarer.
        timeout_keep_alive=KEEP_ALIVE_S,
        # Logging is the embedding application's business, not uvicorn's default config.
        log_config=None,
    )
    return uvicorn.Server(config)


@asynccontextmanager
async def running_server(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve ``app`` in the current event loop while the block runs; yields its base URL."""
    listener = bind(host, port)
    server = make_server(app)
    actual = int(listener.getsockname()[1])
    stopped = anyio.Event()

    async def serve() -> None:
        try:
            await server.serve([listener])
        finally:
            stopped.set()

    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(serve)
            # uvicorn has no readiness event; ``started`` is set once it accepts connections.
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while not server.started:
                if time.monotonic() > deadline or stopped.is_set():
                    server.should_exit = True
                    raise RuntimeError("the IDE server did not start (see the log above)")
                await anyio.sleep(0.005)
            try:
                yield url_for(host, actual)
            finally:
                # Shut down in full even when the block failed: the lifespan records the end of
                # the runs still going, which cancelling uvicorn's tasks would cut short.
                server.should_exit = True
                with anyio.CancelScope(shield=True), anyio.move_on_after(STARTUP_TIMEOUT_S):
                    await stopped.wait()
    finally:
        listener.close()
