"""What every command shares: exit codes and reporting errors without tracebacks."""

from __future__ import annotations

import sys
import traceback

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


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
