"""When the IDE server's process runs full garbage collections.

A full collection walks every object the collector tracks, and the event loop, with every
stream on it, stands still meanwhile: with a hundred runs streaming that is ~180,000 objects
(a run in progress holds ~1,100: its tasks, its model client's state, its Lua bridge) and
~100 ms on a two-core machine, several times that under load. CPython starts one whenever the
objects that survived since the last one reach a quarter of the rest, which while runs stream
means every 15-30 s, each time a stall of every stream.

The server keeps CPython's young collections (a few ms each) and runs the full ones itself
when they stall nobody: once no run is going (at CPython's own pace there), or, while runs go
on, once ``max_finished`` runs have ended since the last one (a finished run's structure is
cyclic: freeing it is most of what a full collection does) or ``max_interval_s`` has passed.
Those bound the garbage that waits meanwhile.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from types import TracebackType

import anyio

# A threshold the count of young collections never reaches: no automatic full collection.
NEVER = 1 << 30
# With no run going, a full collection after this many young (generation 1) collections:
# CPython's default pace.
IDLE_AFTER = 10


class GcPolicy:
    """Use as a context manager around the server's life, with ``run`` as a task in it."""

    def __init__(
        self, *, max_finished: int = 100, max_interval_s: float = 300.0, check_s: float = 1.0
    ) -> None:
        self.max_finished = max_finished
        self.max_interval_s = max_interval_s
        self.check_s = check_s
        self.full_collections = 0
        self._finished = 0
        self._last = time.monotonic()
        self._saved: tuple[int, int, int] | None = None

    def __enter__(self) -> GcPolicy:
        self._saved = gc.get_threshold()
        young, middle, _ = self._saved
        gc.set_threshold(young, middle, NEVER)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def run_finished(self) -> None:
        self._finished += 1

    def due(self, active_runs: int) -> bool:
        # gc.get_count()[2]: generation 1 collections since the last full one, each of which
        # moved its survivors into the oldest generation.
        promoted = gc.get_count()[2]
        if active_runs == 0:
            return self._finished > 0 or promoted >= IDLE_AFTER
        return self._finished >= self.max_finished or (
            promoted > 0 and time.monotonic() - self._last >= self.max_interval_s
        )

    def collect(self) -> None:
        gc.collect()
        self.full_collections += 1
        self._finished = 0
        self._last = time.monotonic()

    async def run(self, active_runs: Callable[[], int]) -> None:
        while True:
            await anyio.sleep(self.check_s)
            if self.due(active_runs()):
                self.collect()
