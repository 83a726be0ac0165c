"""Running the scripted model server inside the caller's event loop."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from types import TracebackType

import anyio
import uvicorn

from runtime.listen import tcp_listener
from runtime.model_server.app import ConnectionDropped, ServerState, create_app
from runtime.model_server.script import Reply, RequestRecord, Script, StreamRecord

_STARTUP_TIMEOUT = 10.0


class _HideDroppedConnections(logging.Filter):
    """uvicorn logs every exception that leaves the application as an error; a connection the
    script asked to drop is not one."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, ConnectionDropped)


_DROP_FILTER = _HideDroppedConnections()


class ScriptedModelServer:
    """An OpenAI-compatible chat completions server that answers from a script.

    Use it as an async context manager: it listens once entered and stops on exit.
    """

    def __init__(
        self,
        script: Script | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens_per_second: float | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._state = ServerState(script, tokens_per_second)
        self.app = create_app(self._state)
        self._port: int | None = None
        self._running: AbstractAsyncContextManager[None] | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not running")
        return self._port

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    @property
    def tokens_per_second(self) -> float | None:
        """The pace of answers whose reply sets none; None or 0 is as fast as possible."""
        return self._state.tokens_per_second

    @tokens_per_second.setter
    def tokens_per_second(self, rate: float | None) -> None:
        self._state.tokens_per_second = rate

    @property
    def script(self) -> Script:
        """The replies not used yet."""
        return self._state.script

    @property
    def requests(self) -> list[RequestRecord]:
        return self._state.requests

    @property
    def streams(self) -> list[StreamRecord]:
        return self._state.streams

    def set_script(self, script: Script) -> None:
        self._state.script = script.model_copy(deep=True)

    def append(self, *replies: Reply, model: str | None = None) -> None:
        """Add replies at the end of the script, for ``model`` only if given."""
        added = list(replies)
        script = Script(models={model: added}) if model is not None else Script(replies=added)
        self._state.script.extend(script)

    async def __aenter__(self) -> ScriptedModelServer:
        if self._running is not None:
            raise RuntimeError("the server is already running")
        self._running = self._run()
        await self._running.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        running, self._running = self._running, None
        if running is None:
            return None
        return await running.__aexit__(exc_type, exc, traceback)

    @asynccontextmanager
    async def _run(self) -> AsyncIterator[None]:
        # Binding here rather than in uvicorn makes a busy port an OSError for the caller
        # instead of uvicorn's sys.exit, and gives the port before uvicorn starts.
        listener = tcp_listener(self.host, self._requested_port)
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            # Answers in progress are cut on exit; this only bounds a request caught mid-way.
            timeout_graceful_shutdown=1,
        )
        logging.getLogger("uvicorn.error").addFilter(_DROP_FILTER)
        server = _EmbeddedServer(config)
        self._port = int(listener.getsockname()[1])
        failure: Exception | None = None
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(_serve, server, listener)
                try:
                    await _until_started(server)
                    yield
                except Exception as exc:
                    # Re-raised below, outside the task group, so that the caller gets its own
                    # exception rather than an ExceptionGroup wrapping it.
                    failure = exc
                finally:
                    self._state.end_deliveries()
                    server.should_exit = True
        finally:
            listener.close()
            self._port = None
        if failure is not None:
            raise failure


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside another program (``tide run``, the IDE, a test): that program's signals
    stay its own. uvicorn would take SIGINT and SIGTERM while it serves, drain its requests
    first (up to its graceful timeout) and only then pass the signal on, so Ctrl-C would stop
    a run only a second late."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve(server: uvicorn.Server, listener: socket.socket) -> None:
    # Shielded: when the caller is cancelled, uvicorn must still shut down and unregister its
    # sockets from the event loop. Exiting the context manager always sets ``should_exit``.
    with anyio.CancelScope(shield=True):
        await server.serve([listener])


async def _until_started(server: uvicorn.Server) -> None:
    # uvicorn has no readiness event; its ``started`` flag is set once it accepts connections.
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("the scripted model server did not start")
        await anyio.sleep(0.005)
