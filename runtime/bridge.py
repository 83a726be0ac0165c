"""The bridge between a run's Lua thread and the event loop.

Lua runs in a worker thread and blocks while an agent turn runs in the event loop. The turn may
need Lua again (a tool is a Lua function), and a Lua state must only ever be used from its own
thread, so the Lua thread does not simply block: it waits on an inbox and runs the jobs that
async code sends it until the awaited result arrives.
"""

from __future__ import annotations

import queue
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import anyio
import anyio.from_thread
from anyio.abc import TaskGroup

T = TypeVar("T")

_WAKE = object()


class _Outcome(Generic[T]):
    __slots__ = ("error", "value")

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None


class LuaThreadBridge:
    def __init__(self, task_group: TaskGroup, check: Callable[[], None]) -> None:
        """``check`` raises if the run has been stopped; it is called when the Lua thread is
        woken without a result."""
        self._task_group = task_group
        self._check = check
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._finished: set[int] = set()
        self._cancelled_class = anyio.get_cancelled_exc_class()

    # -- called on the Lua thread -------------------------------------------------------------

    def wait_for(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``await function(*args)`` in the event loop; serve Lua jobs until it is done."""
        outcome: _Outcome[T] = _Outcome()
        anyio.from_thread.run_sync(
            self._task_group.start_soon, self._drive, function, args, outcome
        )
        while id(outcome) not in self._finished:
            item = self._inbox.get()
            if item is _WAKE:
                self._check()
            elif isinstance(item, _Outcome):
                self._finished.add(id(item))
            else:
                item()
        self._finished.discard(id(outcome))
        if outcome.error is not None:
            if isinstance(outcome.error, self._cancelled_class):
                # The run is being stopped: unwind Lua with the stop's own reason.
                self._check()
            raise outcome.error
        return outcome.value

    # -- called in the event loop ---------------------------------------------------------------

    async def _drive(
        self, function: Callable[..., Awaitable[Any]], args: tuple[Any, ...], outcome: _Outcome[Any]
    ) -> None:
        try:
            outcome.value = await function(*args)
        except BaseException as exc:
            outcome.error = exc
            if isinstance(exc, self._cancelled_class):
                raise
        finally:
            self._inbox.put(outcome)

    async def run_in_lua_thread(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` on the Lua thread (which must be waiting in ``wait_for``)."""
        done = anyio.Event()
        outcome: _Outcome[T] = _Outcome()

        def job() -> None:
            try:
                outcome.value = function(*args)
            except BaseException as exc:
                outcome.error = exc
            finally:
                anyio.from_thread.run_sync(done.set)

        self._inbox.put(job)
        await done.wait()
        if outcome.error is not None:
            raise outcome.error
        return outcome.value

    def wake(self) -> None:
        """Make a waiting Lua thread re-check whether the run was stopped (any thread)."""
        self._inbox.put(_WAKE)
