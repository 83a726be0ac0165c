"""What every command shares: exit codes, reporting errors without tracebacks, the store."""

from __future__ import annotations

import argparse
import math
import sys
import traceback
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
# The run asked a person and waits for the answer (``tide runs answer``).
EXIT_WAITING = 4
# 128 + SIGPIPE: what a shell reports for a command whose reader closed the pipe.
EXIT_BROKEN_PIPE = 141


# Every numeric option of every command parses through one of these, so that a value out of
# range is a usage error naming the option (exit 2), never a traceback or an odd result.


def _number(text: str, kind: type[float] | type[int]) -> float:
    try:
        value = kind(text.strip())
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_seconds(text: str) -> float:
    """A duration in seconds, more than 0."""
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text!r}")
    return value


def positive_number(text: str) -> float:
    """A finite number more than 0 (a rate, a number of minutes)."""
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A count of at least 1."""
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def port_number(text: str) -> int:
    """A TCP port: 0 (any free one) to 65535."""
    value = int(_number(text, int))
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 0 to 65535, got {text!r}")
    return value


NUMERIC_TYPES = (positive_seconds, positive_number, positive_int, port_number)


def print_error(message: str, hint: str | None = None) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print(f"[bold red]error:[/] {escape(message)}")
    if hint:
        console.print(f"  [yellow]hint:[/] {escape(hint)}")


def report_tide_error(exc: Exception, *, debug: bool) -> int:
    """Print a user mistake clearly; return the exit code it deserves."""
    from runtime.errors import TideError

    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, TideError):
        print_error(str(exc), exc.hint)
        return EXIT_USAGE
    raise exc


def report_unexpected(exc: BaseException, *, debug: bool) -> int:
    from runtime.errors import TideError

    if isinstance(exc, TideError):
        return report_tide_error(exc, debug=debug)
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    else:
        print_error(
            f"internal error: {type(exc).__name__}: {exc}",
            "run again with --debug for the traceback",
        )
    return EXIT_FAILED


def close_all(*opened: Any) -> None:
    """Close what a command opened (None: what it did not)."""
    for resource in opened:
        if resource is not None:
            resource.close()


def open_store() -> Any:
    """The workspace's execution store, or None (with a warning) when it cannot be opened."""
    from runtime.store import default_store_path
    from runtime.store.opening import StoreError, open_store

    try:
        return open_store(default_store_path("."))
    except StoreError as exc:
        print_error(f"the run is not recorded: {exc.message}", exc.hint)
        return None


def events_file(path: str, source: Any, *, append: bool) -> Any:
    """A JsonlHandler whose file is open before the run starts, or None (reported) when the
    path cannot take events: a folder, the procedure itself, or a file that cannot be written."""
    import os

    from runtime.handlers import JsonlHandler

    target = os.path.realpath(path)
    if source.path is not None and target == os.path.realpath(source.path):
        print_error(
            f"--events {path} is the procedure itself: its source would be overwritten",
            "give another file, e.g. --events events.jsonl",
        )
        return None
    if os.path.isdir(target):
        print_error(f"--events {path} is a folder", "give a file, e.g. --events events.jsonl")
        return None
    handler = JsonlHandler(path, append=append)
    try:
        handler.open()
    except OSError as exc:
        print_error(
            f"--events {path} cannot be written: {exc.strerror or exc}",
            "give a file in a folder you can write to",
        )
        return None
    return handler
