"""The host's side of executors: ``ExecutorPool`` starts the fork server and hands it runs;
``ExecutorRun`` is one run in an executor, with the interface of an in-process ``Run`` that the
IDE's run manager uses (``prepare``, ``execute``, ``cancel``)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from anyio.abc import UNIXSocketStream
from anyio.streams.buffered import BufferedByteReceiveStream

from runtime.errors import InputValidationError, TideError
from runtime.events import (
    TERMINAL_TYPES,
    AgentStreamChunkEvent,
    ErrorInfo,
    Event,
    RunCancelledEvent,
    RunFailedEvent,
    RunStartedEvent,
    RunTotals,
    ValidationIssue,
    parse_event,
)
from runtime.executor.spec import GRACE_S, RunSpec
from runtime.executor.wire import MAX_LINE_BYTES, send_control
from runtime.handlers import LogHandler
from runtime.source import ProcedureSource
from runtime.store.handler import StoreHandler

if TYPE_CHECKING:
    from runtime.api import Runtime

# How long closing the pool waits for the fork server to exit before killing it.
STOP_GRACE_S = 5.0


class ExecutorError(TideError):
    """A procedure's mistake found by an executor, with the kind it had there."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(info.message, file=info.file, line=info.line, hint=info.hint)
        self.kind = info.kind


class ExecutorPool:
    """The fork server of one host. ``async with ExecutorPool(preload=...)``."""

    def __init__(self, *, preload: Sequence[str] = ()) -> None:
        self._preload = tuple(preload)
        self._control: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._ready = False
        self._ready_lock = anyio.Lock()

    async def __aenter__(self) -> ExecutorPool:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        command = [sys.executable, "-m", "runtime.executor", str(theirs.fileno())]
        for name in self._preload:
            command += ["--preload", name]
        env = dict(os.environ)
        # Few malloc arenas: executors have few threads, and each arena reserves address space.
        env.setdefault("MALLOC_ARENA_MAX", "2")
        env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        self._process = subprocess.Popen(command, pass_fds=[theirs.fileno()], env=env)
        theirs.close()
        self._control = ours
        return self

    async def __aexit__(self, *exc: object) -> None:
        control, self._control = self._control, None
        if control is not None:
            control.close()  # the fork server kills its executors and exits
        process = self._process
        if process is not None:
            try:
                await anyio.to_thread.run_sync(process.wait, STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                await anyio.to_thread.run_sync(process.wait)

    def _send(self, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
        if self._control is None:
            raise RuntimeError("the executor pool is not running")
        with self._lock:
            send_control(self._control, message, fds)

    async def _wait_ready(self) -> None:
        """Wait until the fork server has imported the runtime (once): the time a run is
        allowed starts when its executor can start."""
        async with self._ready_lock:
            if self._ready or self._control is None:
                return
            control = self._control
            if await anyio.to_thread.run_sync(control.recv, 1) != b"r":
                raise RuntimeError("the executor fork server did not start")
            self._ready = True

    async def start(self, spec: RunSpec) -> tuple[UNIXSocketStream, socket.socket]:
        """An executor for ``spec``: its stream, and the raw socket (for ``cancel``)."""
        if not self._ready:
            await self._wait_ready()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._send(
                {
                    "op": "start",
                    "run": spec.run_id,
                    "seconds": spec.time_allowed(),
                    "models": not spec.mock,
                },
                [theirs.fileno()],
            )
        finally:
            theirs.close()
        stream = await UNIXSocketStream.from_socket(ours)
        await stream.send(spec.model_dump_json().encode() + b"\n")
        return stream, ours

    def kill(self, run_id: str) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            self._send({"op": "kill", "run": run_id})

    async def inspect(self, spec: RunSpec) -> dict[str, Any]:
        """Prepare ``spec`` in an executor: its checked inputs and models, or its error."""
        spec = spec.model_copy(update={"kind": "inspect"})
        stream, _ = await self.start(spec)
        reader = BufferedByteReceiveStream(stream)
        try:
            # A first real-model run waits for the fork server to import the model client.
            with anyio.move_on_after(spec.time_allowed() + (0 if spec.mock else 60)):
                line = await reader.receive_until(b"\n", MAX_LINE_BYTES)
                return dict(json.loads(line))
            self.kill(spec.run_id)
            return {
                "error": {
                    "kind": "timeout",
                    "message": "reading the procedure's declarations ran out of time",
                    "hint": "look for a loop at the top level of the file",
                }
            }
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.DelimiterNotFound, ValueError):
            return {"error": {"kind": "internal", "message": "the executor ended unexpectedly"}}
        finally:
            await stream.aclose()


class ExecutorRun:
    """A run in an executor process, as the IDE's run manager drives it."""

    def __init__(
        self,
        pool: ExecutorPool,
        runtime: Runtime,
        source: ProcedureSource,
        inputs: dict[str, Any] | None = None,
        *,
        handlers: list[LogHandler] | None = None,
        mock: bool = False,
        model: str | None = None,
        run_id: str,
        inputs_from_strings: bool = False,
        tags: dict[str, Any] | None = None,
    ) -> None:
        self.pool = pool
        self.runtime = runtime
        config = runtime.config
        self.run_id = run_id
        self.spec = RunSpec.for_source(
            source,
            config,
            run_id=run_id,
            inputs=dict(inputs or {}),
            mock=mock,
            model=model,
            inputs_from_strings=inputs_from_strings,
            tags=dict(tags or {}),
        )
        self.tags: dict[str, str] = {}
        self.timeout_s = config.timeout_s
        # A store the host records in is the executor's to record in (and journal into); the
        # host records there only what it has to say itself (a run it stopped by force).
        self.handlers: list[LogHandler] = []
        self._store_handlers: list[StoreHandler] = []
        for handler in handlers or []:
            path = getattr(getattr(handler, "store", None), "path", None)
            if isinstance(handler, StoreHandler) and path is not None and not self._store_handlers:
                self._store_handlers.append(handler)
                self.spec = self.spec.model_copy(update={"store": str(path)})
            else:
                self.handlers.append(handler)
        self.inputs: dict[str, Any] = {}
        self.models: list[str] = []
        self.model_override: str | None = model
        self.totals = RunTotals()
        self._socket: socket.socket | None = None
        self._stop_reason: str | None = None
        self._scope: anyio.CancelScope | None = None
        self._seq = 0
        self._partial: str | None = None
        self._started = time.monotonic()

    async def prepare(self) -> ExecutorRun:
        """Check the procedure and its inputs in an executor. Raises for the user's mistakes."""
        answer = await self.pool.inspect(self.spec)
        error = answer.get("error")
        if error is not None:
            issues = error.pop("issues", None)
            info = ErrorInfo.model_validate(error)
            if info.kind == "input":
                raise InputValidationError(
                    info.message,
                    [ValidationIssue.model_validate(i) for i in issues or []],
                    file=info.file,
                    line=info.line,
                    hint=info.hint,
                )
            raise ExecutorError(info)
        self.inputs = dict(answer.get("inputs") or {})
        self.models = list(answer.get("models") or [])
        self.model_override = answer.get("model")
        self.tags = dict(answer.get("tags") or {})
        # The run proper starts from the checked inputs, and calls this machine's model servers
        # where this host runs them.
        served: dict[str, str] = {}
        if not self.spec.mock:
            for model in [self.model_override] if self.model_override else self.models:
                api_base = await self.runtime.router.served_api_base(model)
                if api_base is not None:
                    served[model.partition("/")[0]] = api_base
        self.spec = self.spec.model_copy(
            update={"inputs": self.inputs, "inputs_from_strings": False, "served": served}
        )
        return self

    def cancel(self, reason: str = "cancelled") -> None:
        """Ask the executor to stop; it is killed if it has not ended within ``GRACE_S``."""
        if self._stop_reason is None:
            self._stop_reason = reason
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.send(b"cancel\n", socket.MSG_DONTWAIT)
        if self._scope is not None:
            self._scope.deadline = min(self._scope.deadline, anyio.current_time() + GRACE_S)

    async def execute(self) -> None:
        self._started = time.monotonic()
        if self._stop_reason is not None:
            # Cancelled while queued: it starts and ends at once, as an in-process run does.
            self._seq += 1
            await self._deliver(
                ours=True,
                event=RunStartedEvent(
                    run_id=self.run_id,
                    seq=self._seq,
                    procedure=self.spec.display_name,
                    inputs=self.inputs,
                    tags=self.tags,
                ),
            )
            await self._end(RunCancelledEvent, reason=self._stop_reason)
            return
        stream, self._socket = await self.pool.start(self.spec)
        reader = BufferedByteReceiveStream(stream)
        ended = False
        try:
            # Until the run starts (inspection included), then its timeout, plus the grace.
            with anyio.CancelScope(
                deadline=anyio.current_time() + self.spec.time_allowed()
            ) as scope:
                self._scope = scope
                if self._stop_reason is not None:
                    self.cancel(self._stop_reason)
                while not ended:
                    line = await reader.receive_until(b"\n", MAX_LINE_BYTES)
                    ended = await self._relay(line)
            if not ended:
                self.pool.kill(self.run_id)
                await self._stopped_by_force()
                ended = True
        except anyio.DelimiterNotFound:
            self.pool.kill(self.run_id)
            await self._end(
                RunFailedEvent,
                error=ErrorInfo(kind="internal", message="the executor sent an event too large"),
            )
            ended = True
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, OSError):
            pass
        finally:
            self._scope = None
            self._socket = None
            with anyio.CancelScope(shield=True):
                if not ended:
                    self.pool.kill(self.run_id)
                    await self._end(
                        RunFailedEvent,
                        error=ErrorInfo(
                            kind="executor",
                            message="the run's process ended before the run did "
                            "(it may have exceeded its memory or CPU limit)",
                        ),
                    )
                await stream.aclose()

    async def _relay(self, line: bytes) -> bool:
        document = json.loads(line)
        if "type" not in document:
            error = ErrorInfo.model_validate(document.get("error") or {"message": "failed"})
            await self._end(RunFailedEvent, error=error)
            return True
        event = parse_event(document)
        self._seq = event.seq
        if isinstance(event, RunStartedEvent) and self._scope is not None:
            deadline = anyio.current_time() + self.timeout_s + GRACE_S
            if self._stop_reason is None:
                self._scope.deadline = deadline
        elif isinstance(event, AgentStreamChunkEvent):
            self._partial = event.accumulated_text
        totals = getattr(event, "totals", None)
        if isinstance(totals, RunTotals):
            self.totals = totals
        await self._deliver(event)
        return event.type in TERMINAL_TYPES

    async def _stopped_by_force(self) -> None:
        if self._stop_reason == "cancelled":
            await self._end(RunCancelledEvent, reason="cancelled")
            return
        await self._end(
            RunFailedEvent,
            error=ErrorInfo(
                kind="timeout",
                message="the procedure ran out of time (its process was stopped: it was inside "
                "a call that could not be interrupted)",
                hint="raise the limit with --timeout SECONDS, or look for a loop that never ends",
            ),
        )

    async def _end(self, kind: type[RunFailedEvent | RunCancelledEvent], **fields: Any) -> None:
        self.totals.duration_ms = (time.monotonic() - self._started) * 1000
        self._seq += 1
        event = kind(
            run_id=self.run_id,
            seq=self._seq,
            partial_text=self._partial,
            totals=self.totals,
            **fields,
        )
        await self._deliver(event, ours=True)

    async def _deliver(self, event: Event, *, ours: bool = False) -> None:
        """Hand ``event`` to the handlers; to the store too when the host made it (``ours``)."""
        for handler in [*self.handlers, *(self._store_handlers if ours else [])]:
            result = handler.log(event)
            if result is not None and hasattr(result, "__await__"):
                await result
