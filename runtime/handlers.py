"""Log handlers: where a run's events go.

A handler is any object with a ``log(event)`` method; it may return an awaitable. A plain
``log`` is called as the event is emitted; each handler also has its own buffer and task (see
``runtime.bus``), where what it awaits waits without stalling the run. A failing one is reported
once, as a ``log`` event, instead of breaking it.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from runtime.events import TERMINAL_TYPES, Event
from runtime.wire import event_line


@runtime_checkable
class LogHandler(Protocol):
    def log(self, event: Event) -> Awaitable[None] | None: ...


class MemoryHandler:
    """Keeps every event, in order. Handy in tests and for embedding."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def log(self, event: Event) -> None:
        self.events.append(event)

    def of_type(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.type == kind]

    def types(self) -> list[str]:
        return [e.type for e in self.events]


class JsonlHandler:
    """Writes one JSON object per line, as an executor sends it to its host (``wire``): capped
    in size, and a chunk without the turn's text so far (rebuilt by offset: ``ChunkViews``),
    which would make a turn's lines grow with the square of its length. The file is flushed
    after every terminal event.

    The file is replaced when first written, or added to with ``append=True``. ``open()``
    opens it at once, so that a path that cannot be written fails before a run starts rather
    than losing its events.
    """

    def __init__(self, path: str | Path, *, append: bool = False) -> None:
        self.path = Path(path)
        self.append = append
        self._file: IO[bytes] | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        """Create the file (and its folder) now; raises ``OSError`` when it cannot be written."""
        with self._lock:
            self._open()

    def _open(self) -> IO[bytes]:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab" if self.append else "wb")
        return self._file

    def log(self, event: Event) -> None:
        with self._lock:
            self._open().write(event_line(event))
            if event.type in TERMINAL_TYPES:
                self._open().flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
