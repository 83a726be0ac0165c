"""A run's event bus: numbers events, keeps a summary, and feeds each handler from its own
unbounded buffer in its own task.

A handler whose ``log`` is a plain function and that has nothing waiting is handed the event at
once, in the emitter's step: passing it through the handler's task would cost a turn of the
event loop, behind whatever else is ready then (a model client's next read), on every streamed
chunk. An awaitable it returns is awaited by its task, and the events after it wait their turn
there, so each handler still sees every event once, in order, one at a time."""

from __future__ import annotations

import inspect
import math
from collections import Counter, deque
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from runtime.events import Event, LogEvent, _EventBase
from runtime.handlers import LogHandler

E = TypeVar("E", bound=_EventBase)
# How long the end of a run waits for slow handlers to catch up before it returns anyway.
DRAIN_TIMEOUT_S = 30.0


class _Pending:
    """What a handler's ``log`` returned to be awaited, queued in its buffer."""

    __slots__ = ("awaitable",)

    def __init__(self, awaitable: Awaitable[Any]) -> None:
        self.awaitable = awaitable


class EventBus:
    def __init__(self, run_id: str, handlers: list[LogHandler]) -> None:
        self.run_id = run_id
        self.counts: Counter[str] = Counter()
        self._seq = 0
        self._handlers = list(handlers)
        self._streams: list[MemoryObjectSendStream[Event | _Pending]] = []
        # Per handler: whether its ``log`` may be called in the emitter's step (not ``async``).
        self._inline: list[bool] = []
        self._scopes: list[anyio.CancelScope] = []
        self._failed: set[int] = set()
        self._running = 0
        self._closed = False
        self._drained = anyio.Event()
        # A resumed run replays what is already stored: events up to this seq are not sent again.
        self._stored_through = 0
        # Seqs taken by events that began or ended an attempt: a replay never emits them again.
        self._boundaries: frozenset[int] = frozenset()
        # Per handler, events sent to it and not yet handled; set when someone waits on it.
        self._backlog: list[int] = []
        self._progress: anyio.Event | None = None
        # Events being handed on, in order, and whether that is under way (see ``_send_out``).
        self._outgoing: deque[tuple[Event, int | None]] = deque()
        self._sending = False

    @property
    def last_seq(self) -> int:
        return self._seq

    def start(self, task_group: TaskGroup) -> None:
        for index, handler in enumerate(self._handlers):
            send, receive = anyio.create_memory_object_stream[Event | _Pending](math.inf)
            self._streams.append(send)
            self._backlog.append(0)
            self._inline.append(not inspect.iscoroutinefunction(handler.log))
            self._running += 1
            task_group.start_soon(self._feed, index, handler, receive)

    def replaying(self, stored_through: int, boundaries: Iterable[int] = ()) -> None:
        """Events numbered up to ``stored_through`` are already recorded (a resumed run):
        numbering goes on as usual, stepping over ``boundaries`` (the seqs of the events that
        began or ended the earlier attempts), but those are not dispatched again."""
        self._stored_through = stored_through
        self._boundaries = frozenset(boundaries)

    def resumed_start(self, kind: type[E], **fields: Any) -> E:
        """Emit a resumed run's start after everything stored, then number the replay from
        where the first attempt's start left it."""
        self._seq = self._stored_through
        event = self.emit(kind, **fields)
        self._boundaries |= {event.seq}
        self._seq = 1
        return event

    def set_seq(self, seq: int) -> None:
        """Continue numbering after ``seq`` (a replayed effect: its events are stored)."""
        self._seq = seq

    def go_live(self) -> None:
        """From here on every event is new: number after everything already stored."""
        self._seq = max(self._seq, self._stored_through, *self._boundaries, 0)

    def next_seq(self) -> int:
        """Reserve the next sequence number, for an event built by the caller."""
        self._seq += 1
        while self._seq in self._boundaries:
            self._seq += 1
        return self._seq

    def emit(self, kind: type[E], **fields: Any) -> E:
        """Build, number and dispatch an event. Call from the event loop's thread."""
        event = kind(run_id=self.run_id, seq=self.next_seq(), **fields)
        self.dispatch(event)  # type: ignore[arg-type]
        return event

    def dispatch(self, event: Event) -> None:
        self.counts[event.type] += 1
        if event.seq > self._stored_through:
            self._send_out(event)

    def _send_out(self, event: Event, skip: int | None = None) -> None:
        """Hand ``event`` to every handler (but ``skip``), after the events already on their
        way: one a handler emits while it is called waits until every handler has the event
        being handed on, so that each sees the events in order."""
        if self._closed:
            return
        self._outgoing.append((event, skip))
        if self._sending:
            return
        self._sending = True
        try:
            while self._outgoing:
                event, skip = self._outgoing.popleft()
                handed = [(i, self._hand(i, event)) for i in range(len(self._streams)) if i != skip]
                # Failures are told once every handler has the event: a notice follows its cause.
                for index, failure in handed:
                    if failure is not None:
                        self._report_failure(index, self._handlers[index], failure)
        finally:
            self._sending = False

    def _hand(self, index: int, event: Event) -> Exception | None:
        """Give ``event`` to handler ``index``: at once when it may be called here and has
        nothing waiting, else through its buffer. What it raised, if it was called and failed."""
        self._backlog[index] += 1
        if not self._inline[index] or self._backlog[index] > 1:
            self._streams[index].send_nowait(event)
            return None
        # Counted as waiting while it runs: an event it causes meanwhile goes to its buffer.
        try:
            result = self._handlers[index].log(event)
        except Exception as exc:
            self._handled(index)
            return exc
        if inspect.isawaitable(result):
            self._streams[index].send_nowait(_Pending(result))
            return None
        self._handled(index)
        return None

    def _handled(self, index: int) -> None:
        self._backlog[index] -= 1
        if self._progress is not None:
            self._progress.set()
            self._progress = None

    async def delivered(self, handler: LogHandler) -> None:
        """Wait until ``handler`` has handled every event dispatched so far (the journal waits
        for the store to have an effect's events before it records the effect)."""
        index = next((i for i, h in enumerate(self._handlers) if h is handler), None)
        if index is None or index >= len(self._backlog):
            return
        while self._backlog[index] > 0 and index not in self._failed and not self._closed:
            self._progress = progress = anyio.Event()
            await progress.wait()

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
        self, index: int, handler: LogHandler, receive: MemoryObjectReceiveStream[Event | _Pending]
    ) -> None:
        # Shielded, so that a run cancelled from outside still hands its handlers every event up
        # to ``run_cancelled``; ``close`` ends the feed.
        with anyio.CancelScope(shield=True) as scope:
            self._scopes.append(scope)
            try:
                async with receive:
                    async for item in receive:
                        try:
                            if isinstance(item, _Pending):
                                await item.awaitable
                            else:
                                result = handler.log(item)
                                if inspect.isawaitable(result):
                                    await result
                        except Exception as exc:
                            self._report_failure(index, handler, exc)
                        self._handled(index)
            finally:
                self._running -= 1
                self._drained.set()
                if self._progress is not None:
                    self._progress.set()

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
        self._send_out(notice, skip=index)
