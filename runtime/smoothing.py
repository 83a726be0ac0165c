"""Display smoothing: streamed text shown a word or a line at a time instead of in the model's
arbitrary pieces, for people reading along (``tide run --smooth word|line``).

Text is released as soon as a boundary arrives (a space or a newline for ``word``, a newline for
``line``), so it keeps the model's pace, and nothing is held back longer than ``max_hold`` (100
ms): then whatever is waiting goes out as it is. Only what a ``SmoothedHandler`` shows changes;
the run's events, and every other handler, see the chunks as they came.
"""

from __future__ import annotations

import functools
import inspect
import math
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar, get_args

import anyio

from runtime.events import TERMINAL_TYPES, AgentStreamChunkEvent, Event, TextBuffer
from runtime.handlers import LogHandler

SmoothMode = Literal["word", "line"]
SMOOTH_MODES: tuple[str, ...] = get_args(SmoothMode)
MAX_HOLD_S = 0.1
T = TypeVar("T")


class Smoother:
    """Holds the end of a stream back until a boundary; ``release(text)`` gets the rest."""

    def __init__(
        self,
        mode: SmoothMode,
        release: Callable[[str], None],
        *,
        max_hold: float = MAX_HOLD_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in SMOOTH_MODES:
            raise ValueError(f"smoothing is one of {', '.join(SMOOTH_MODES)}, not {mode!r}")
        self.mode = mode
        self.release = release
        self.max_hold = max_hold
        self.clock = clock
        self.held = ""
        self.held_since: float | None = None

    def _cut(self, text: str) -> int:
        """Where ``text`` may be cut: just after its last boundary (0: nowhere)."""
        if self.mode == "line":
            return text.rfind("\n") + 1
        return max(text.rfind(c) for c in (" ", "\n", "\t")) + 1

    def push(self, text: str) -> None:
        if not text:
            return
        waiting = self.held + text
        cut = self._cut(waiting)
        if cut:
            self.release(waiting[:cut])
            waiting = waiting[cut:]
            self.held_since = None
        if waiting and self.held_since is None:
            self.held_since = self.clock()
        self.held = waiting
        if self.overdue():
            self.flush()

    def deadline(self) -> float | None:
        """When the held text must go out, on ``clock``."""
        return None if self.held_since is None else self.held_since + self.max_hold

    def overdue(self) -> bool:
        deadline = self.deadline()
        return deadline is not None and self.clock() >= deadline

    def flush(self) -> None:
        if self.held:
            self.release(self.held)
        self.held = ""
        self.held_since = None


class SmoothedHandler:
    """Shows ``inner`` (a console, say) smoothed chunks. Run ``run()`` in a task alongside the
    run: it releases text whose time is up while the model is silent."""

    def __init__(self, inner: LogHandler, mode: SmoothMode, *, max_hold: float = MAX_HOLD_S):
        self.inner = inner
        self.mode = mode
        self.max_hold = max_hold
        self._streams: dict[tuple[str, str, int], tuple[Smoother, AgentStreamChunkEvent]] = {}
        self._buffers: dict[tuple[str, str, int], TextBuffer] = {}
        self._wake = anyio.Event()

    async def log(self, event: Event) -> None:
        if isinstance(event, AgentStreamChunkEvent):
            key = (event.run_id, event.agent, event.turn)
            entry = self._streams.get(key)
            if entry is None:
                self._buffers[key] = TextBuffer()
                smoother = Smoother(
                    self.mode, functools.partial(self._show, key), max_hold=self.max_hold
                )
            else:
                smoother = entry[0]
            self._streams[key] = (smoother, event)
            smoother.push(event.chunk_text)
            self._wake.set()
            return
        # Anything else (a tool call, the turn's cost line) comes after the text before it.
        self.flush()
        if event.type in TERMINAL_TYPES:
            for key in [k for k in self._streams if k[0] == event.run_id]:
                del self._streams[key], self._buffers[key]
        await self._pass(event)

    def _show(self, key: tuple[str, str, int], text: str) -> None:
        _, last = self._streams[key]
        buffer = self._buffers[key]
        offset = buffer.append(text)
        shown = AgentStreamChunkEvent.from_buffer(
            buffer,
            text,
            offset,
            run_id=last.run_id,
            seq=last.seq,
            ts=last.ts,
            agent=last.agent,
            turn=last.turn,
        )
        result = self.inner.log(shown)
        if inspect.isawaitable(result):
            raise TypeError("SmoothedHandler shows through handlers whose log is synchronous")

    async def _pass(self, event: Event) -> None:
        result = self.inner.log(event)
        if inspect.isawaitable(result):
            await result

    def flush(self) -> None:
        for smoother, _ in self._streams.values():
            smoother.flush()

    async def run(self) -> None:
        """Release held text when its time is up; runs until cancelled."""
        while True:
            deadlines = [d for s, _ in self._streams.values() if (d := s.deadline()) is not None]
            wait = min(deadlines) - time.monotonic() if deadlines else math.inf
            if wait > 0:
                self._wake = anyio.Event()
                with anyio.move_on_after(wait):
                    await self._wake.wait()
            for smoother, _ in list(self._streams.values()):
                if smoother.overdue():
                    smoother.flush()


async def alongside(smoothed: SmoothedHandler | None, work: Callable[[], Awaitable[T]]) -> T:
    """``await work()`` with ``smoothed.run()`` going on beside it (when there is one); what
    ``work`` raises comes out as it is."""
    if smoothed is None:
        return await work()
    outcome: list[T] = []
    failure: list[BaseException] = []
    async with anyio.create_task_group() as group:
        group.start_soon(smoothed.run)
        try:
            outcome.append(await work())
        except Exception as exc:
            failure.append(exc)
        finally:
            smoothed.flush()
            group.cancel_scope.cancel()
    if failure:
        raise failure[0]
    return outcome[0]
