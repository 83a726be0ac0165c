"""Fan-out of a run's events to any number of watchers.

A run's events are kept once, in order, in its ``RunChannel``; each watcher is a cursor into
that list plus a wake-up flag. Publishing an event appends it and wakes the watchers, and never
waits for any of them, so a slow watcher cannot slow the run or the other watchers. What a
watcher has not taken yet is its backlog; one more than ``max_backlog`` events behind is told
to reconnect (``lagged``) instead of being fed an ever older stream.

A chunk is kept in its compact shape (``runtime.chunks.Chunk``). The writers merge the
consecutive chunks of a turn (``runtime.chunks.merge``) in every batch a watcher takes at once:
the snapshot a new watcher starts with, and what piled up while it was busy writing.

A watcher notes when the first event it has not taken arrived (``since``), so that one that
holds chunks back for a while (``coalesce_ms``, see ``sse``) can count its window from there.
While it holds chunks (``holding``) further chunks do not wake it; any other event does.

A channel holds only the events after ``stored_through``: the store has the rest. While a run
goes on, the channel lets go of the events the store has once it holds many (``release``
through a seq), so that a run's events, however many, do not pile up in the server; when it has
ended and the store has all of its events, it lets go of them all, so that the server's memory
holds no finished run. A watcher that had not taken what was let go, or that starts before
``stored_through`` (a resumed run's first attempt), is ``behind`` and reads what it misses from
the store (``take_stored``) before it goes on with the channel.
"""

from __future__ import annotations

import bisect
import ctypes
import time
from collections.abc import Awaitable, Callable, Sequence

import anyio

from runtime.chunks import Entry, chunk_of, seq_of
from runtime.events import TERMINAL_TYPES, AgentStreamChunkEvent, Event

# The run's stored events after a seq.
StoredReader = Callable[[int], Awaitable[Sequence[Entry]]]


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


_MALLOC_TRIM = _malloc_trim()


def is_terminal(entry: Entry) -> bool:
    return not isinstance(entry, tuple) and entry.type in TERMINAL_TYPES


class Watcher:
    __slots__ = ("_wake", "behind", "cursor", "delivered", "holding", "lagged", "since")

    def __init__(self, cursor: int, delivered: int) -> None:
        self.cursor = cursor
        # The seq of the last event handed to this watcher: where it resumes after ``lagged``.
        self.delivered = delivered
        self.lagged = False
        # True while what it misses is in the store only (``RunChannel.take_stored``).
        self.behind = False
        # When (``time.monotonic()``) the first event it has not taken arrived; None for none,
        # and for the events it started with.
        self.since: float | None = None
        # True while it holds chunks back: a chunk need not wake it, anything else must.
        self.holding = False
        self._wake = anyio.Event()

    def notify(self, at: float) -> None:
        if self.since is None:
            self.since = at
        self._wake.set()

    async def wait(self) -> None:
        await self._wake.wait()
        self._wake = anyio.Event()


class RunChannel:
    """A run's events in memory and the watchers following them. ``log`` makes it a handler."""

    def __init__(
        self,
        run_id: str,
        *,
        max_backlog: int,
        stored: StoredReader | None = None,
        stored_through: int = 0,
    ) -> None:
        """``stored`` reads the run's events from the store; ``stored_through``: the store
        already has the events up to this seq, which the channel does not hold."""
        self.run_id = run_id
        self.max_backlog = max_backlog
        self.entries: list[Entry] = []
        self._seqs: list[int] = []
        self._watchers: set[Watcher] = set()
        self.finished = False
        self._stored = stored
        self.stored_through = stored_through

    @property
    def last_seq(self) -> int:
        return self._seqs[-1] if self._seqs else self.stored_through

    @property
    def watchers(self) -> int:
        return len(self._watchers)

    def log(self, event: Event) -> None:
        if self.finished:
            return
        entry: Entry
        if isinstance(event, AgentStreamChunkEvent):
            entry = chunk_of(event)
        else:
            entry = event
            self.finished = event.type in TERMINAL_TYPES
        self.entries.append(entry)
        self._seqs.append(event.seq)
        chunk = isinstance(entry, tuple)
        limit = len(self.entries) - self.max_backlog
        now = time.monotonic()
        for watcher in self._watchers:
            if watcher.cursor < limit:
                watcher.lagged = True
            elif chunk and watcher.holding:
                continue
            watcher.notify(now)

    def watch(self, after: int = 0) -> Watcher:
        """A watcher that starts with the events after seq ``after``."""
        watcher = Watcher(bisect.bisect_right(self._seqs, after), after)
        watcher.behind = after < self.stored_through
        self._watchers.add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)

    def take(self, watcher: Watcher) -> Sequence[Entry]:
        """The events the watcher has not taken yet (it has taken them after this)."""
        start = watcher.cursor
        if start >= len(self.entries):
            return ()
        batch = self.entries[start:]
        watcher.cursor = len(self.entries)
        watcher.delivered = self._seqs[-1]
        watcher.since = None
        return batch

    def release(self, through: int | None = None) -> None:
        """Let go of the events held up to seq ``through`` (all of them by default): the store
        has them now. A watcher that had not taken them all is ``behind``: it reads the rest
        from the store."""
        if self._stored is None:
            raise RuntimeError("a channel without a store keeps its events")
        cut = len(self._seqs) if through is None else bisect.bisect_right(self._seqs, through)
        if cut == 0:
            return
        now = time.monotonic()
        for watcher in self._watchers:
            if watcher.cursor < cut:
                watcher.behind = True
                watcher.notify(now)
                watcher.cursor = 0
            else:
                watcher.cursor -= cut
        self.stored_through = self._seqs[cut - 1]
        del self.entries[:cut]
        del self._seqs[:cut]
        # glibc keeps what was freed for later use: after a run's flood of large events the
        # server would go on holding hundreds of MiB it no longer uses. Hand it back.
        if not self.entries and _MALLOC_TRIM is not None:
            _MALLOC_TRIM(0)

    async def take_stored(self, watcher: Watcher) -> Sequence[Entry]:
        """For a watcher that is ``behind``: the events it has not taken that only the store
        holds (it has taken them after this)."""
        assert self._stored is not None
        through = self.stored_through
        entries = [e for e in await self._stored(watcher.delivered) if seq_of(e) <= through]
        if entries:
            watcher.delivered = seq_of(entries[-1])
        # Released again while it read (a resumed run that ended): it reads again.
        watcher.behind = self.stored_through != through
        return entries
