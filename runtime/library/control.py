"""``Stop``, ``Iterations``, ``System.alert`` and ``Sleep``: a procedure's own flow control."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runtime.errors import DeclarationError

if TYPE_CHECKING:
    from runtime.library._host import LibraryHost

ALERT_LEVELS = ("info", "warning", "error", "critical")


@dataclass
class Control:
    stop_requested: bool = False
    stop_reason: str | None = None
    stop_success: bool = True
    iterations: int = 0

    def call(self, host: LibraryHost, namespace: str, function: str, args: list[Any]) -> Any:
        if namespace == "Stop":
            return self._stop(function, args)
        if namespace == "Iterations":
            return self._iterations(function, args)
        return alert(host, args[0] if args else None)

    def _stop(self, function: str, args: list[Any]) -> Any:
        if function == "request":
            reason = args[0] if args else None
            if isinstance(reason, dict):
                args = [reason.get("reason"), reason.get("success", True)]
                reason = args[0]
            self.stop_requested = True
            self.stop_reason = None if reason is None else str(reason)
            self.stop_success = bool(args[1]) if len(args) > 1 and args[1] is not None else True
            return None
        if function == "requested":
            return self.stop_requested
        if function == "reason":
            return self.stop_reason
        return self.stop_success

    def _iterations(self, function: str, args: list[Any]) -> Any:
        if function == "current":
            return self.iterations
        if function == "increment":
            self.iterations += 1
            return self.iterations
        if function == "reset":
            self.iterations = 0
            return None
        limit = args[0] if args else None
        if not isinstance(limit, (int, float)) or isinstance(limit, bool):
            raise DeclarationError(
                "Iterations.exceeded expects a number, e.g. Iterations.exceeded(10)"
            )
        return self.iterations >= limit


def alert(host: LibraryHost, options: Any) -> None:
    """``System.alert{message, level, source, context}``: an event, and nothing else."""
    if isinstance(options, str):
        options = {"message": options}
    if not isinstance(options, dict):
        raise DeclarationError('System.alert expects a table: System.alert{ message = "..." }')
    level = str(options.get("level", "info")).lower()
    if level == "warn":
        level = "warning"
    if level not in ALERT_LEVELS:
        raise DeclarationError(
            f"System.alert: unknown level '{level}'", hint="use one of: " + ", ".join(ALERT_LEVELS)
        )
    context = options.get("context") or {}
    source = options.get("source")
    emit = getattr(host.effects, "alert", None)
    if emit is not None:
        emit(
            level,
            str(options.get("message", "Alert")),
            None if source is None else str(source),
            context if isinstance(context, dict) else {"context": context},
        )


def seconds(value: Any) -> float:
    """``Sleep``'s argument, checked."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
        raise DeclarationError("Sleep expects a number of seconds, e.g. Sleep(0.5)")
    return max(float(value), 0.0)


def sleep(host: LibraryHost, seconds: float) -> None:
    """``Sleep(seconds)``: wait, but stop at once when the run is cancelled or out of time."""
    wait = getattr(host.effects, "sleep", None)
    if wait is not None:
        wait(seconds)
        return
    # No run to wait in (a custom step after the run): wait here, checking for a stop.
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        host.sandbox.check()
        time.sleep(min(left, 0.05))


def notify(effects: Any, args: list[Any], source: str | None) -> None:
    """``Human.notify{message, level}``: tells a person something without waiting; a log event."""
    options = args[0] if args else {}
    if isinstance(options, str):
        options = {"message": options}
    if not isinstance(options, dict):
        raise DeclarationError('Human.notify expects a table: Human.notify{ message = "..." }')
    level = str(options.get("level", "info")).lower()
    level = {"warning": "warn", "critical": "error"}.get(level, level)
    if level not in ("debug", "info", "warn", "error"):
        level = "info"
    fields = {"human": "notify"}
    effects.log(level, str(options.get("message", "")), fields, source)
