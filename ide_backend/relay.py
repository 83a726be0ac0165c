"""Fan-out of a run's events to any number of watchers.

A run's events are kept once, in order, in its ``RunChannel``; each watcher is a cursor into
that list plus a wake-up flag. Publishing an event appends it and wakes the watchers, and never
waits for any of them, so a slow watcher cannot slow the run or the other watchers. What a
watcher has not taken yet is its backlog; one more than ``max_backlog`` events behind is told
to reconnect (``lagged``) instead of being fed an ever older stream.

``coalesce`` turns consecutive chunks of one turn into one chunk (its text theirs joined, its
offset the first one's, its seq the last one's), for the snapshot a new watcher starts with: a
client that rebuilds text by offset gets exactly the same text from far fewer messages.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import anyio

from runtime.events import TERMINAL_TYPES, AgentStreamChunkEvent, Event


@dataclass(slots=True)
class Chunk:
    """One or more consecutive chunk events of a turn, as one."""

    run_id: str
    seq: int
    agent: str
    turn: int
    offset: int
    text: str


Message = Event | Chunk


def coalesce(events: Iterable[Event]) -> list[Message]:
    out: list[Message] = []
    parts: list[str] = []
    current: Chunk | None = None
    end = 0
    for event in events:
        if isinstance(event, AgentStreamChunkEvent):
            if (
                current is not None
                and current.agent == event.agent
                and current.turn == event.turn
                and end == event.offset
            ):
                parts.append(event.chunk_text)
                current.seq = event.seq
                end += len(event.chunk_text)
                continue
            if current is not None:
                current.text = "".join(parts)
            current = Chunk(
                event.run_id, event.seq, event.agent, event.turn, event.offset, event.chunk_text
            )
            parts = [event.chunk_text]
            end = event.offset + len(event.chunk_text)
            out.append(current)
            continue
        if current is not None:
            current.text = "".join(parts)
            current = None
        out.append(event)
    if current is not None:
        current.text = "".join(parts)
    return out


class Watcher:
    __slots__ = ("_wake", "cursor", "delivered", "lagged")

    def __init__(self, cursor: int, delivered: int) -> None:
        self.cursor = cursor
        # The seq of the last event handed to this watcher: where it resumes after ``lagged``.
        self.delivered = delivered
        self.lagged = False
        self._wake = anyio.Event()

    def notify(self) -> None:
        self._wake.set()

    async def wait(self) -> None:
        await self._wake.wait()
        self._wake = anyio.Event()


class RunChannel:
    """A run's events in memory and the watchers following them. ``log`` makes it a handler."""

    def __init__(self, run_id: str, *, max_backlog: int) -> None:
        self.run_id = run_id
        self.max_backlog = max_backlog
        self.events: list[Event] = []
        self._seqs: list[int] = []
        self._watchers: set[Watcher] = set()
        self.finished = False

    @property
    def last_seq(self) -> int:
        return self._seqs[-1] if self._seqs else 0

    @property
    def watchers(self) -> int:
        return len(self._watchers)

    def log(self, event: Event) -> None:
        if self.finished:
            return
        self.events.append(event)
        self._seqs.append(event.seq)
        if event.type in TERMINAL_TYPES:
            self.finished = True
        limit = len(self.events) - self.max_backlog
        for watcher in self._watchers:
            if watcher.cursor < limit:
                watcher.lagged = True
            watcher.notify()

    def watch(self, after: int = 0) -> Watcher:
        """A watcher that starts with the events after seq ``after``."""
        watcher = Watcher(bisect.bisect_right(self._seqs, after), after)
        self._watchers.add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)

    def take(self, watcher: Watcher) -> Sequence[Event]:
        """The events the watcher has not taken yet (it has taken them after this)."""
        start = watcher.cursor
        if start >= len(self.events):
            return ()
        batch = self.events[start:]
        watcher.cursor = len(self.events)
        watcher.delivered = batch[-1].seq
        return batch

    def since(self, after: int) -> list[Event]:
        return self.events[bisect.bisect_right(self._seqs, after) :]
