"""A run's events as an async iterator: ``Runtime.stream``.

    async with Runtime() as runtime:
        stream = runtime.stream("procedures/hello.tac", {"name": "Ada"})
        async for event in stream:
            ...
        result = await stream.result()

The run executes in the runtime's own task group, not in the consumer's loop: the stream is a
log handler that appends each event to a list and never waits, so a consumer that is slow (or
gone) cannot stall the run, and none loses an event. Each ``async for`` (or ``events(after=seq)``)
is a cursor of its own into that list, so the same stream can be read again from the start or
resumed after a seq (what a reconnecting server-sent-events client asks for). Leaving a loop
early leaves the run going; ``cancel()`` stops it, and so does leaving an ``async with`` block
around the stream.
"""

from __future__ import annotations

import bisect
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskGroup

from runtime.errors import TideError
from runtime.events import TERMINAL_TYPES, Event

if TYPE_CHECKING:
    from runtime.run import Run, RunResult


class RunStream:
    """A run's events, in order, for any number of readers; ``result()`` for its end.

    Made by ``Runtime.stream``. Iterating it raises the ``TideError`` that stopped the run
    before it started (a syntax error, bad inputs, missing credentials), as ``result()`` does.
    """

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.events_so_far: list[Event] = []
        self._seqs: list[int] = []
        self._changed = anyio.Event()
        self._ended = anyio.Event()
        self._result: RunResult | None = None
        self._error: Exception | None = None
        self._run: Run | None = None

    # -- the handler side -------------------------------------------------------------------------

    def log(self, event: Event) -> None:
        self.events_so_far.append(event)
        self._seqs.append(event.seq)
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def start(self, run: Run, task_group: TaskGroup) -> None:
        """Execute ``run`` (which has this stream among its handlers) in ``task_group``."""
        self._run = run
        task_group.start_soon(self._drive, run)

    async def _drive(self, run: Run) -> None:
        try:
            self._result = await run.execute()
        except Exception as exc:
            # A mistake found before the run started, or a bug: ``result()`` raises it, and the
            # runtime's other work goes on. (Cancellation, the runtime closing, goes through.)
            self._error = exc
        finally:
            self._ended.set()
            self._wake()

    # -- the reader side --------------------------------------------------------------------------

    @property
    def run(self) -> Run | None:
        """The run, unless it could not even be made (its file could not be read)."""
        return self._run

    def fail(self, error: TideError) -> None:
        """End the stream with ``error``, for a run that could not be made."""
        self._error = error
        self._ended.set()
        self._wake()

    @property
    def finished(self) -> bool:
        """True once the run has ended (or never started)."""
        return self._ended.is_set()

    @property
    def last_seq(self) -> int:
        return self._seqs[-1] if self._seqs else 0

    def __aiter__(self) -> AsyncIterator[Event]:
        return self.events()

    async def events(self, after: int = 0) -> AsyncIterator[Event]:
        """The run's events with a seq above ``after``: those so far, then each as it comes;
        the iterator ends after the terminal event."""
        index = bisect.bisect_right(self._seqs, after)
        while True:
            if index < len(self.events_so_far):
                event = self.events_so_far[index]
                index += 1
                if event.seq <= after:
                    # Arrived after the reader began: ``after`` is still ahead of it.
                    continue
                yield event
                if event.type in TERMINAL_TYPES:
                    return
                continue
            if self._ended.is_set():
                # The run is over; every event it sent is in the list (the bus drains its
                # handlers before ``execute`` returns).
                if self._error is not None:
                    raise self._error
                return
            await self._changed.wait()

    async def batches(self, after: int = 0) -> AsyncIterator[list[Event]]:
        """Like ``events``, but whatever has arrived by the time the reader asks, at once: a
        reader that falls behind catches up in fewer, larger steps."""
        index = bisect.bisect_right(self._seqs, after)
        while True:
            if index < len(self.events_so_far):
                batch = [e for e in self.events_so_far[index:] if e.seq > after]
                index = len(self.events_so_far)
                if batch:
                    yield batch
                    if batch[-1].type in TERMINAL_TYPES:
                        return
                continue
            if self._ended.is_set():
                if self._error is not None:
                    raise self._error
                return
            await self._changed.wait()

    async def started(self) -> None:
        """Return once the run has started; raise the ``TideError`` that kept it from starting.
        (An endpoint can answer such a mistake with an error status before it streams.)"""
        while not self.events_so_far:
            if self._ended.is_set():
                await self.result()
                return
            await self._changed.wait()

    async def result(self) -> RunResult:
        """The run's result, once it has ended. Raises the ``TideError`` that kept it from
        starting, if one did."""
        await self._ended.wait()
        if self._result is not None:
            return self._result
        if self._error is not None:
            raise self._error
        raise RuntimeError("the run did not end: its runtime was closed while it ran")

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop the run; it ends with ``run_cancelled``."""
        if self._run is not None and not self._ended.is_set():
            self._run.cancel(reason)

    async def __aenter__(self) -> RunStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cancel()


def start_stream(
    run_id: str, run_factory: Callable[[RunStream], Run], task_group: TaskGroup | None
) -> RunStream:
    """A ``RunStream`` for the run that ``run_factory(handler)`` builds with it as a handler,
    started in ``task_group`` (the runtime's). A ``TideError`` in building the run (a file that
    cannot be read) ends the stream with it, as one found when the run starts does."""
    if task_group is None:
        raise RuntimeError("use `async with Runtime() as runtime:` to stream runs")
    stream = RunStream(run_id)
    try:
        run = run_factory(stream)
    except TideError as exc:
        stream.fail(exc)
    else:
        stream.start(run, task_group)
    return stream
