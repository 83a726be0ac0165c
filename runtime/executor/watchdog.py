"""A watchdog for a run in the current process (``tide run``): if the run has not ended its
timeout plus a grace after it started (or after the procedure's top level should have been
read), the process says so and exits. A run stuck in a call into Lua's C library cannot be
stopped from inside the process any other way; the store shows such a run as interrupted."""

from __future__ import annotations

import os
import sys
import threading

from runtime.events import TERMINAL_TYPES, Event

# Exit status of a run that failed (as ``tide run`` reports any failed run).
EXIT_FAILED = 1
PREPARE_SLACK_S = 60.0


class Watchdog:
    """A log handler: armed at once for reading the procedure, re-armed at ``run_started``
    for the run's timeout, disarmed at its end."""

    def __init__(
        self, timeout_s: float, inspect_s: float, *, grace_s: float = 1.0, follows: bool = True
    ) -> None:
        """``follows``: it will be given the run's events (else it allows for the longest a
        procedure may take to read, then run)."""
        self.timeout_s = timeout_s
        self.grace_s = grace_s
        self._timer: threading.Timer | None = None
        # Before the run starts: reading the procedure, and loading the model libraries to
        # check credentials, which takes seconds on a busy machine.
        reading = min(inspect_s, timeout_s) + PREPARE_SLACK_S
        self._arm(reading + grace_s + (0 if follows else timeout_s))

    def log(self, event: Event) -> None:
        if event.type == "run_started":
            self._arm(self.timeout_s + self.grace_s)
        elif event.type in TERMINAL_TYPES:
            self.disarm()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, seconds: float) -> None:
        self.disarm()
        self._timer = threading.Timer(seconds, _fire)
        self._timer.daemon = True
        self._timer.start()


def _fire() -> None:
    message = (
        "error: the procedure ran out of time, inside a call that could not be interrupted: "
        "the process stops here\n"
        "  hint: raise the limit with --timeout SECONDS, or look for a loop that never ends\n"
    )
    try:
        sys.stdout.flush()
        os.write(2, message.encode())
    finally:
        os._exit(EXIT_FAILED)
