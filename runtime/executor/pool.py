"""The host's side of executors: ``ExecutorPool`` starts the fork servers and hands them
specs. Two fork servers: one with the runtime alone, which forks at once from the start (for
mocked runs and for reading files), and one that also sets up the model libraries (seconds, in
its own process, while the other serves) for runs that call real models."""

from __future__ import annotations

import json
import socket
import uuid
from typing import Any

import anyio
from anyio.abc import UNIXSocketStream
from anyio.streams.buffered import BufferedByteReceiveStream

from runtime.config import RuntimeConfig
from runtime.errors import TOP_LEVEL_HINT
from runtime.executor.forks import ForkServerProcess
from runtime.executor.spec import RunSpec
from runtime.source import ProcedureSource
from runtime.wire import MAX_LINE_BYTES

# How long an executor may take to start: the fork server forks at once, once it is warm
# (seconds, once, on a busy machine).
START_WAIT_S = 120.0
# Runs inspected at once. Each inspection is a process, and its time counts from its fork: a
# burst of new runs forked all at once would share the processor until some ran out of time
# before they started. The rest wait their turn.
CONCURRENT_INSPECTIONS = 8
# Runs starting at once, from an executor's fork to its run's first event: tens of milliseconds
# of processor time each (setting up the run, its first model call), which a burst of new runs
# starting together would take from the runs already streaming. The rest wait their turn.
CONCURRENT_STARTS = 4
# Runs of one procedure that one executor takes at once, once SHARED_FROM runs of it are going
# (each of those has a process of its own; see ``runtime.executor.server``).
RUNS_PER_EXECUTOR = 16
SHARED_FROM = 8


class ExecutorPool:
    """The fork servers of one host. ``async with ExecutorPool(models=True)``: runs of real
    models start from a second fork server with the model libraries set up, started on the first
    such run (or ahead of it: ``warm_models``); without ``models``, one serves all.

    Each run has a process of its own while fewer than ``shared_from`` runs of its procedure
    are going; further ones share executors, up to ``runs_per_executor`` runs each (the other
    runs in the executor of a run that must be stopped by force are stopped with it, and they
    are always runs of the same procedure); ``runs_per_executor=1`` never shares."""

    def __init__(
        self,
        *,
        models: bool = False,
        runs_per_executor: int = RUNS_PER_EXECUTOR,
        shared_from: int = SHARED_FROM,
    ) -> None:
        if runs_per_executor < 1:
            raise ValueError("runs_per_executor must be at least 1")
        self._load_models = models
        self._runs_per_executor = runs_per_executor
        self._shared_from = shared_from
        self._plain = self._fork_server(models=False)
        self._models: ForkServerProcess | None = None
        self._inspecting = anyio.CapacityLimiter(CONCURRENT_INSPECTIONS)
        self.starting = anyio.CapacityLimiter(CONCURRENT_STARTS)

    def _fork_server(self, *, models: bool) -> ForkServerProcess:
        return ForkServerProcess(
            models=models,
            runs_per_executor=self._runs_per_executor,
            shared_from=self._shared_from,
        )

    def _servers(self) -> list[ForkServerProcess]:
        return [self._plain, *([self._models] if self._models else [])]

    async def __aenter__(self) -> ExecutorPool:
        self._plain.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        with anyio.CancelScope(shield=True):
            for server in self._servers():
                await server.aclose()
        self._models = None

    def warm_models(self) -> None:
        """Start the models' fork server now (it sets up the model libraries, seconds): runs
        of real models are likely soon (a person opened the editor)."""
        if self._models is None and self._load_models:
            self._models = self._fork_server(models=True)
            self._models.open()

    def fork_server_pids(self) -> list[int]:
        """The fork servers' processes (the plain one first); executors are their children."""
        return [server.pid for server in self._servers() if server.pid is not None]

    async def ready(self) -> None:
        """Wait until mocked runs and readings can start (the plain fork server is up)."""
        await self._plain.ready()

    async def start(self, spec: RunSpec) -> tuple[UNIXSocketStream, socket.socket]:
        """An executor for ``spec``: its stream, and the raw socket (for ``cancel``)."""
        if spec.mock or spec.kind == "validate" or not self._load_models:
            return await self._plain.start(spec)
        self.warm_models()
        assert self._models is not None
        return await self._models.start(spec)

    def kill(self, run_id: str) -> None:
        for server in self._servers():
            server.kill(run_id)

    async def inspect(self, spec: RunSpec) -> dict[str, Any]:
        """Prepare ``spec`` in an executor: its checked inputs and models, or its error."""
        spec = spec.model_copy(update={"kind": "inspect"})
        async with self._inspecting:
            answer = await self._ask(spec, spec.time_allowed())
        if answer is None:
            return {"error": _OUT_OF_TIME}
        return answer

    async def validate(self, source: ProcedureSource, config: RuntimeConfig) -> dict[str, Any]:
        """``tide validate``'s report on ``source`` (as ``ValidationReport.describe()``), read in
        an executor that is killed when its top level overstays ``config.inspect_timeout_s``."""
        spec = RunSpec.for_source(source, config, run_id=uuid.uuid4().hex[:12], kind="validate")
        answer = await self._ask(spec, spec.time_allowed())
        if answer is not None and "error" not in answer:
            return answer
        error = dict((answer or {}).get("error") or _OUT_OF_TIME)
        diagnostic = {"severity": "error", "message": error.get("message"), "line": 1, "column": 1}
        if error.get("hint"):
            diagnostic["hint"] = error["hint"]
        return {"ok": False, "diagnostics": [diagnostic], "procedure": None}

    async def _ask(self, spec: RunSpec, seconds: float) -> dict[str, Any] | None:
        """The one answer of an executor for ``spec``; None when it overstayed ``seconds``."""
        stream, _ = await self.start(spec)
        reader = BufferedByteReceiveStream(stream)
        try:
            started = False
            with anyio.move_on_after(START_WAIT_S):
                await reader.receive_until(b"\n", MAX_LINE_BYTES)  # {"started": true}
                started = True
            if started:
                with anyio.move_on_after(seconds):
                    return dict(json.loads(await reader.receive_until(b"\n", MAX_LINE_BYTES)))
            self.kill(spec.run_id)
            return None
        except (
            anyio.EndOfStream,
            anyio.IncompleteRead,
            anyio.DelimiterNotFound,
            anyio.BrokenResourceError,  # killed by its fork server: the connection was reset
            ValueError,
        ):
            message = "the executor ended unexpectedly (it may have exceeded its memory limit)"
            return {"error": {"kind": "executor", "message": message}}
        finally:
            await stream.aclose()


_OUT_OF_TIME = {
    "kind": "timeout",
    "message": "the procedure's top level ran out of time, inside a call that could not be "
    "interrupted: its process was stopped",
    "hint": TOP_LEVEL_HINT,
}
