"""A process that forks children from a warm state and watches them: the loop shared by
``tide worker`` (a child per ``tide run``) and the executors' fork server (a child per run).

The loop is single-threaded on purpose: a process that forks must have no other threads, or a
child could inherit a lock that some thread held at the instant of the fork. It never runs a
child's work itself, so it always answers: it reaps children, and kills each one that passes
the moment it was given (``Child.kill_at``).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import selectors
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

# The longest the loop sleeps: what subclasses check now and then (idleness) waits this long.
TICK_S = 1.0
_WAKEUP = object()


def freeze_warm_state(setup: Callable[[], None]) -> None:
    """Import and set up what every child needs (``setup``), then keep it out of garbage
    collections (the children share its pages, and collections would copy them)."""
    setup()
    build_deferred_models()
    gc.collect()
    gc.freeze()


def build_deferred_models() -> None:
    """Build the runtime's pydantic models that defer their build to their first use (so that
    a command that never uses them starts sooner): every child would build them again."""
    from pydantic import BaseModel

    waiting: list[type[BaseModel]] = list(BaseModel.__subclasses__())
    while waiting:
        model = waiting.pop()
        waiting.extend(model.__subclasses__())
        if model.__module__.startswith("runtime.") and not model.__pydantic_complete__:
            model.model_rebuild(raise_errors=False)


def single_threaded(log: logging.Logger) -> bool:
    """Whether forking is safe here; says why not in ``log``."""
    if threading.active_count() == 1:
        return True
    log.error("threads running after start-up (%s): cannot fork safely", threading.enumerate())
    return False


@dataclass
class Child:
    # When the child is killed (monotonic time), unless it has ended by then.
    kill_at: float | None = None


C = TypeVar("C", bound=Child)


class ForkLoop(Generic[C]):
    """Subclasses register what they read in ``selector`` (its data a callable taking the key),
    fork with ``fork``, keep their children in ``children`` and learn of their end in
    ``ended``."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.children: dict[int, C] = {}
        self.stopping = False
        # What a forked child closes first: the parent's descriptors are not its business.
        self.closers: list[Callable[[], None]] = [self.selector.close]

    # -- what subclasses decide ------------------------------------------------------------

    def running(self) -> bool:
        """Whether the loop goes on (by default: until it is stopping)."""
        return not self.stopping

    def tick(self, now: float) -> None:
        """Called after each wake-up (at least every ``TICK_S``)."""

    def ended(self, pid: int, child: C, code: int) -> None:
        """``child`` exited with ``code`` (negative: killed by that signal)."""

    # -- the loop --------------------------------------------------------------------------

    def serve(self) -> None:
        wakeup_read, wakeup_write = os.pipe()
        os.set_blocking(wakeup_read, False)
        os.set_blocking(wakeup_write, False)
        signal.set_wakeup_fd(wakeup_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        self.selector.register(wakeup_read, selectors.EVENT_READ, _WAKEUP)
        self.closers += [lambda: os.close(wakeup_read), lambda: os.close(wakeup_write)]
        try:
            while self.running():
                for key, _ in self.selector.select(timeout=self._timeout()):
                    if key.data is _WAKEUP:
                        _drain(wakeup_read)
                    else:
                        key.data(key)
                self._reap()
                now = time.monotonic()
                self._kill_overdue(now)
                self.tick(now)
        finally:
            for pid in list(self.children):
                kill(pid, signal.SIGKILL)
            for pid in list(self.children):
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
            for close in self.closers:
                close()

    def fork(self, body: Callable[[], int]) -> int:
        """Fork a child that runs ``body`` and exits with its status; its pid, here."""
        pid = os.fork()
        if pid:
            return pid
        code = 1
        try:
            # First, so that no signal is written to a descriptor closed just below.
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_DFL)
            for close in self.closers:
                close()
            code = body()
        except BaseException:
            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)

    def _timeout(self) -> float:
        deadlines = [c.kill_at for c in self.children.values() if c.kill_at is not None]
        if not deadlines:
            return TICK_S
        return max(0.0, min(TICK_S, min(deadlines) - time.monotonic()))

    def _kill_overdue(self, now: float) -> None:
        for pid, child in self.children.items():
            if child.kill_at is not None and now > child.kill_at:
                kill(pid, signal.SIGKILL)
                child.kill_at = None

    def _reap(self) -> None:
        for pid in list(self.children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done:
                self.ended(pid, self.children.pop(pid), os.waitstatus_to_exitcode(status))


def kill(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass
