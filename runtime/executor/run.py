"""``ExecutorRun``: one run in an executor, with the interface of an in-process ``Run`` that
the IDE's run manager uses (``prepare``, ``execute``, ``cancel``)."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections import deque
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import anyio

from runtime.chunks import ChunkViews
from runtime.errors import InputValidationError, TideError
from runtime.events import (
    TERMINAL_TYPES,
    AgentStreamChunkEvent,
    CostEvent,
    ErrorInfo,
    Event,
    RunCancelledEvent,
    RunFailedEvent,
    RunStartedEvent,
    RunTotals,
    ToolCallEvent,
    ValidationIssue,
    parse_event,
)
from runtime.executor.lines import LineTooLong, follow_lines
from runtime.executor.pool import START_WAIT_S, ExecutorPool
from runtime.executor.spec import GRACE_S, RunSpec
from runtime.handlers import LogHandler
from runtime.source import ProcedureSource
from runtime.store.handler import StoreHandler
from runtime.wire import MAX_LINE_BYTES

if TYPE_CHECKING:
    from runtime.api import Runtime


class ExecutorError(TideError):
    """A procedure's mistake found by an executor, with the kind it had there."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(info.message, file=info.file, line=info.line, hint=info.hint)
        self.kind = info.kind


# Relayed events kept for the store, at most (the newest): an executor's store writes at least
# every 256 events or 50 ms, so what it can lose at its death is far less.
RELAYED_KEPT_BYTES = 8 * 1024 * 1024


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
        timeout_s: float | None = None,
        resume: bool = False,
        stored_through: int = 0,
    ) -> None:
        """``resume``: take the stored run ``run_id`` up again from its journal (it has
        ``stored_through`` events already) rather than start it."""
        self.pool = pool
        self.runtime = runtime
        config = runtime.config
        if timeout_s:
            config = config.model_copy(update={"timeout_s": timeout_s})
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
            resume=resume,
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
        self._seq = stored_through
        # Each turn's text, rebuilt from the chunk lines; the last chunk's is the partial text.
        self._chunks = ChunkViews()
        self._last_chunk: AgentStreamChunkEvent | None = None
        self._started = time.monotonic()
        # The latest events relayed, with their sizes (bounded: see RELAYED_KEPT_BYTES): what
        # an executor that dies may not have written to the store yet.
        self._relayed: deque[tuple[Event, int]] = deque()
        self._relayed_bytes = 0
        self._starting = False
        self._turn_wait: anyio.CancelScope | None = None
        # Where the run's code was last seen (file, line), if its executor said so.
        self._where: tuple[str | None, int | None] = (None, None)

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
        if self._turn_wait is not None:
            self._turn_wait.cancel()

    async def execute(self) -> None:
        self._started = time.monotonic()
        if self._stop_reason is None:
            await self._take_start_turn()
        if self._stop_reason is not None:
            self._started_up()
            # Cancelled while queued (or waiting for its turn to start): it starts and ends at
            # once, as an in-process run does.
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
        for handler in self._store_handlers:
            # What this host recorded of the run is on disk before the executor records more;
            # from then on the run's record is the executor's, and this host keeps none.
            await handler.store.flush()
            handler.store.release(self.run_id)
        try:
            stream, sock = await self.pool.start(self.spec)
            self._socket = sock
        except BaseException:
            self._started_up()
            raise
        ended = False
        try:
            # Until the executor starts; then until the run starts (its top level read), then
            # the run's timeout; plus the grace.
            with anyio.CancelScope(deadline=anyio.current_time() + START_WAIT_S) as scope:
                self._scope = scope
                if self._stop_reason is not None:
                    self.cancel(self._stop_reason)
                ended = await follow_lines(sock, self._take_line, max_line=MAX_LINE_BYTES)
            if not ended and scope.cancelled_caught:
                self.pool.kill(self.run_id)
                await self._stopped_by_force()
                ended = True
        except LineTooLong:
            self.pool.kill(self.run_id)
            await self._end(
                RunFailedEvent,
                error=ErrorInfo(kind="internal", message="the executor sent an event too large"),
            )
            ended = True
        except OSError:
            pass
        finally:
            self._started_up()
            self._scope = None
            self._socket = None
            with anyio.CancelScope(shield=True):
                if not ended:
                    self.pool.kill(self.run_id)
                    await self._end(
                        RunFailedEvent,
                        error=ErrorInfo(
                            kind="executor",
                            message="the run's process ended before the run did (it may "
                            "have exceeded its memory or CPU limit, or another run of the "
                            "procedure in it had to be stopped)",
                        ),
                    )
                await stream.aclose()

    def _take_line(self, line: bytes) -> bool | Awaitable[bool]:
        """One line from the executor, as it arrives: whether it was the run's last, or what
        to await first (the next lines wait for it)."""
        document = json.loads(line)
        if document.get("started"):
            if self._stop_reason is None and self._scope is not None:
                # Its top level must end in the time it is given, as it did when inspected.
                self._scope.deadline = anyio.current_time() + self.spec.start_allowed()
            return False
        if "where" in document:
            # Where the procedure's code was, from an executor whose run is past its time.
            where = document["where"] if isinstance(document["where"], dict) else {}
            file, number = where.get("file"), where.get("line")
            self._where = (
                file if isinstance(file, str) else None,
                number if type(number) is int else None,
            )
            return False
        if document.get("parked"):
            return True  # waiting for a person: its events said so, and it ends no other way
        if "type" not in document:
            error = ErrorInfo.model_validate(document.get("error") or {"message": "failed"})
            return self._failed(error)
        event = self._event_of(document)
        # A resumed run numbers on after what is stored (its replayed start included).
        self._seq = max(self._seq, event.seq)
        if isinstance(event, AgentStreamChunkEvent):
            self._last_chunk = event
        elif isinstance(event, RunStartedEvent):
            self._started_up()
            if self._scope is not None and self._stop_reason is None:
                self._scope.deadline = anyio.current_time() + self.timeout_s + GRACE_S
        elif isinstance(event, CostEvent):
            self.totals.add_turn(event)  # so far, should the run end without its own totals
        elif isinstance(event, ToolCallEvent) and event.stage == "started":
            self.totals.tool_calls += 1
        totals = getattr(event, "totals", None)
        if isinstance(totals, RunTotals):
            self.totals = totals
        if self._store_handlers:
            self._keep(event, len(line))
        ended = event.type in TERMINAL_TYPES
        waits = [r for h in self.handlers if (r := h.log(event)) is not None]
        return ended if not waits else self._awaited(waits, ended)

    def _event_of(self, document: dict[str, Any]) -> Event:
        if document.get("type") == "agent_stream_chunk":
            # Most lines: the chunk view checks its fields, and the union of every event type
            # need not be tried first (two thirds of the cost of reading the line).
            with contextlib.suppress(KeyError):
                chunk = (
                    document["seq"],
                    document["agent"],
                    document["turn"],
                    document["offset"],
                    document["chunk_text"],
                )
                return self._chunks.view(chunk, str(document.get("run_id") or self.run_id))
        return parse_event(document)

    async def _awaited(self, waits: list[Awaitable[None]], ended: bool) -> bool:
        for wait in waits:
            await wait
        return ended

    async def _failed(self, error: ErrorInfo) -> bool:
        await self._end(RunFailedEvent, error=error)
        return True

    async def _take_start_turn(self) -> None:
        """Wait for a turn to start (``ExecutorPool.starting``); a cancel ends the wait. Not
        bounded in time: when the processor is short, runs that went ahead without a turn
        would all start at once, and every stream would wait behind them."""
        with anyio.CancelScope() as self._turn_wait:
            await self.pool.starting.acquire_on_behalf_of(self)
            self._starting = True
        self._turn_wait = None

    def _started_up(self) -> None:
        """Give the next run its turn to start (``ExecutorPool.starting``)."""
        if self._starting:
            self._starting = False
            self.pool.starting.release_on_behalf_of(self)

    async def _stopped_by_force(self) -> None:
        if self._stop_reason == "cancelled":
            await self._end(RunCancelledEvent, reason="cancelled")
            return
        file, line = self._where
        await self._end(
            RunFailedEvent,
            error=ErrorInfo(
                kind="timeout",
                message="the procedure ran out of time (its process was stopped: it was inside "
                "a call that could not be interrupted)",
                hint="raise the limit with --timeout SECONDS, or look for a loop that never ends",
                file=file,
                line=line,
            ),
        )

    def _keep(self, event: Event, size: int) -> None:
        self._relayed.append((event, size))
        self._relayed_bytes += size
        while self._relayed_bytes > RELAYED_KEPT_BYTES and len(self._relayed) > 1:
            self._relayed_bytes -= self._relayed.popleft()[1]

    async def _store_what_was_lost(self) -> None:
        """Record the events relayed here that the store lacks: an executor that died took the
        batch it had not written yet with it, and the run's history must have no gap."""
        for handler in self._store_handlers:
            stored = await handler.store.last_seq(self.run_id)
            for event, _ in self._relayed:
                if event.seq > stored:
                    handler.store.record_event(event)
        self._relayed.clear()
        self._relayed_bytes = 0

    async def _end(self, kind: type[RunFailedEvent | RunCancelledEvent], **fields: Any) -> None:
        await self._store_what_was_lost()
        self.totals.duration_ms = (time.monotonic() - self._started) * 1000
        self._seq += 1
        event = kind(
            run_id=self.run_id,
            seq=self._seq,
            partial_text=None if self._last_chunk is None else self._last_chunk.accumulated_text,
            totals=self.totals,
            **fields,
        )
        await self._deliver(event, ours=True)

    async def _deliver(self, event: Event, *, ours: bool = False) -> None:
        """Hand ``event`` to the handlers; to the store first when the host made it (``ours``):
        a handler may wait for the store to have it."""
        for handler in [*(self._store_handlers if ours else []), *self.handlers]:
            result = handler.log(event)
            if result is not None and hasattr(result, "__await__"):
                await result
