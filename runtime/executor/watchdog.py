"""A watchdog for a run in the current process (``tide run``): if the run has not ended its
timeout plus a grace after it started (or after the procedure's top level should have been
read), the process says so and exits. A run stuck in a call into Lua's C library cannot be
stopped from inside the process any other way; the store shows such a run as interrupted.

Memory too: the run's own accounting fails it before it passes its limit, but copies it
does not see (a library's, the allocator's) could take the process further. Once the run has
started (at once for a run whose events it is not given: ``tide run -q --no-store``), the
watchdog reads the process's resident memory every ``SAMPLE_S``; past what it
held when the run started plus the run's limit plus ``MEMORY_OVERHEAD`` (plus
``MODEL_LIBRARIES`` for a run that will load them: a model served on this machine is first
called after the run has started), the process says so and exits.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from runtime.errors import TOP_LEVEL_HINT
from runtime.events import TERMINAL_TYPES, Event
from runtime.executor.spec import GRACE_S, START_ALLOWANCE_S

# Exit status of a run that failed (as ``tide run`` reports any failed run).
EXIT_FAILED = 1
# Before a run that may call models starts: loading the model libraries to check credentials,
# which takes seconds on a busy machine.
PREPARE_SLACK_S = 60.0
# What a run may make the process hold beyond its memory limit: transient copies of values
# crossing the boundary, events on their way out, the interpreter's own garbage.
MEMORY_OVERHEAD = 128 * 1024 * 1024
SAMPLE_S = 0.02
# What importing DSPy and LiteLLM adds to a process (about 210 MiB measured), with room.
MODEL_LIBRARIES = 256 * 1024 * 1024
_PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    """The process's resident memory now."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * _PAGE


class Watchdog:
    """A log handler: armed at once for reading the procedure, re-armed at ``run_started``
    for the run's timeout, disarmed at its end."""

    def __init__(
        self,
        timeout_s: float,
        inspect_s: float,
        *,
        grace_s: float = GRACE_S,
        follows: bool = True,
        max_memory: int | None = None,
        calls_models: bool = True,
    ) -> None:
        """``follows``: it will be given the run's events (else it allows for the longest a
        procedure may take to read, then run). ``max_memory``: the run's memory limit, which
        the process's resident memory is held to once the run has started (plus what it held
        then and ``MEMORY_OVERHEAD``). ``calls_models``: the run may call real models (not
        ``--mock``), so the model libraries may be loaded while it runs."""
        self.timeout_s = timeout_s
        self.grace_s = grace_s
        self.max_memory = max_memory
        self.calls_models = calls_models
        self._timer: threading.Timer | None = None
        # Where the run's code is (``Run.where``), for the message when time runs out.
        self.where: Callable[[], tuple[str, int | None] | None] | None = None
        self._sampling: threading.Event | None = None
        self._started = False
        # Before the run starts: reading the procedure (its top level may run for as long as
        # the run may), then what starting takes.
        reading = min(inspect_s, timeout_s) + (
            PREPARE_SLACK_S if calls_models else START_ALLOWANCE_S
        )
        self._arm(reading + grace_s + (0 if follows else timeout_s))
        if not follows:
            # No run_started will come: memory is held to its ceiling from now on.
            self._start_memory_watch()

    def _start_memory_watch(self) -> None:
        if self.max_memory is None or self._sampling is not None:
            return
        self._sampling = threading.Event()
        ceiling = resident_bytes() + self.max_memory + MEMORY_OVERHEAD
        if self.calls_models and "litellm" not in sys.modules:
            ceiling += MODEL_LIBRARIES
        threading.Thread(target=_watch_memory, args=(self._sampling, ceiling), daemon=True).start()

    def log(self, event: Event) -> None:
        if event.type == "run_started":
            self._started = True
            self._arm(self.timeout_s + self.grace_s)
            self._start_memory_watch()
        elif event.type in TERMINAL_TYPES:
            self.disarm()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._sampling is not None:
            self._sampling.set()

    def _arm(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(seconds, self._out_of_time)
        self._timer.daemon = True
        self._timer.start()

    def _out_of_time(self) -> None:
        where = self.where() if self.where is not None else None
        place = "" if where is None else f"{where[0]}:{where[1]}: " if where[1] else f"{where[0]}: "
        what, hint = (
            (
                "the procedure",
                "raise the limit with --timeout SECONDS, or look for a loop that never ends",
            )
            if self._started
            else ("the procedure's top level", TOP_LEVEL_HINT)
        )
        _fire(
            f"error: {place}{what} ran out of time, inside a call that could not be "
            f"interrupted: the process stops here\n  hint: {hint}\n"
        )


def _watch_memory(stopped: threading.Event, ceiling: int) -> None:
    while not stopped.wait(SAMPLE_S):
        held = resident_bytes()
        if held > ceiling:
            _fire(
                f"error: the procedure ran out of memory (the process held {held >> 20} MiB, "
                f"more than its run's limit allows): the process stops here\n"
                "  hint: keep less in State, logs and tool results\n"
            )


def _fire(message: str) -> None:
    try:
        sys.stdout.flush()
        os.write(2, message.encode())
    finally:
        os._exit(EXIT_FAILED)
