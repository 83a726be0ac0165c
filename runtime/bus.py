"""A run's event bus: numbers events, keeps a summary, and feeds each handler from its own
unbounded buffer in its own task."""

from __future__ import annotations

import contextlib
import inspect
import math
from collections import Counter
from typing import Any, TypeVar

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from runtime.events import Event, LogEvent, _EventBase
from runtime.handlers import LogHandler

E = TypeVar("E", bound=_EventBase)
# How long the end of a run waits for slow handlers to catch up before it returns anyway.
DRAIN_TIMEOUT_S = 30.0


class EventBus:
    def __init__(self, run_id: str, handlers: list[LogHandler]) -> None:
        self.run_id = run_id
        self.counts: Counter[str] = Counter()
        self._seq = 0
        self._handlers = list(handlers)
        self._streams: list[MemoryObjectSendStream[Event]] = []
        self._scopes: list[anyio.CancelScope] = []
        self._failed: set[int] = set()
        self._running = 0
        self._closed = False
        self._drained = anyio.Event()

    @property
    def last_seq(self) -> int:
        return self._seq

    def start(self, task_group: TaskGroup) -> None:
        for index, handler in enumerate(self._handlers):
            send, receive = anyio.create_memory_object_stream[Event](math.inf)
            self._streams.append(send)
            self._running += 1
            task_group.start_soon(self._feed, index, handler, receive)

    def next_seq(self) -> int:
        """Reserve the next sequence number, for an event built by the caller."""
        self._seq += 1
        return self._seq

    def emit(self, kind: type[E], **fields: Any) -> E:
        """Build, number and dispatch an event. Call from the event loop's thread."""
        self._seq += 1
        event = kind(run_id=self.run_id, seq=self._seq, **fields)
        self.dispatch(event)  # type: ignore[arg-type]
        return event

    def dispatch(self, event: Event) -> None:
        self.counts[event.type] += 1
        if self._closed:
            return
        for stream in self._streams:
            stream.send_nowait(event)

    async def close(self, task_group: TaskGroup) -> None:
        """Stop accepting events; wait (bounded) for handlers to finish their backlog."""
        self._closed = True
        for stream in self._streams:
            stream.close()
        with anyio.move_on_after(DRAIN_TIMEOUT_S, shield=True):
            while self._running:
                await self._drained.wait()
                self._drained = anyio.Event()
        for scope in self._scopes:
            scope.cancel()
        task_group.cancel_scope.cancel()

    async def _feed(
        self, index: int, handler: LogHandler, receive: MemoryObjectReceiveStream[Event]
    ) -> None:
        # Shielded, so that a run cancelled from outside still hands its handlers every event up
        # to ``run_cancelled``; ``close`` ends the feed.
        with anyio.CancelScope(shield=True) as scope:
            self._scopes.append(scope)
            try:
                async with receive:
                    async for event in receive:
                        try:
                            result = handler.log(event)
                            if inspect.isawaitable(result):
                                await result
                        except Exception as exc:
                            self._report_failure(index, handler, exc)
            finally:
                self._running -= 1
                self._drained.set()

    def _report_failure(self, index: int, handler: LogHandler, exc: Exception) -> None:
        if index in self._failed:
            return
        self._failed.add(index)
        name = type(handler).__name__
        # A handler may say what it is (a callback names its option); else its class does.
        label = getattr(handler, "label", None) or f"log handler {name}"
        self._seq += 1
        notice = LogEvent(
            run_id=self.run_id,
            seq=self._seq,
            level="error",
            message=f"{label} failed: {type(exc).__name__}: {exc}",
            fields={"handler": name},
        )
        self.counts[notice.type] += 1
        for other, stream in enumerate(self._streams):
            if other != index:
                with contextlib.suppress(anyio.ClosedResourceError):
                    stream.send_nowait(notice)
