"""The ``tide`` command line.

Each command lives in its own module with a ``register(subparsers)`` function that adds its
parser and sets ``handler`` (a function ``(argparse.Namespace) -> int``). Command modules import
only ``argparse`` at module level so that ``tide`` starts fast; the work is imported inside the
handler. Commands from other packages (``tide ide``) are found through the ``tide.commands``
entry point group.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from runtime.cli._common import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    port_number,
    positive_int,
    print_error,
    report_unexpected,
)

# What other packages (``tide ide``) use to speak like every ``tide`` command.
__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "console_main",
    "main",
    "port_number",
    "positive_int",
    "print_error",
    "run_cli",
]

# Each built-in command, and the module that registers it (see ``register``). Only the module of
# the command given is imported: building every command's parser would cost each start.
BUILTIN_COMMANDS = {
    "run": "runtime.cli.run",
    "validate": "runtime.cli.validate",
    "test": "runtime.cli.test",
    "eval": "runtime.cli.eval",
    "events": "runtime.cli.events",
    "runs": "runtime.cli.runs",
    "stats": "runtime.cli.runs",
    "model-server": "runtime.cli.model_server",
    "worker": "runtime.cli.worker",
}
# Commands that call models, which a warm worker starts faster.
DELEGATED_COMMANDS = (("run",), ("runs", "resume"), ("runs", "answer"))


def _plugin_registrars(name: str | None) -> list[object]:
    from importlib.metadata import entry_points

    registrars = []
    for entry in entry_points(group="tide.commands"):
        if name is not None and entry.name != name:
            continue
        try:
            loaded = entry.load()
        except ImportError:
            # A command whose package is not installed (or not built yet) is simply absent.
            continue
        # The entry point names a module with a ``register`` function, or the function itself.
        registrars.append(getattr(loaded, "register", loaded))
    return registrars


DEBUG_HELP = "show Python tracebacks and what a failing component said (an error's detail)"


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tide", description="Run AI-agent workflows written in Lua."
    )
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    home = BUILTIN_COMMANDS.get(command or "")
    modules = [home] if home else dict.fromkeys(BUILTIN_COMMANDS.values())
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(sub)
    if not home:
        # Plugins are looked up only when needed: scanning entry points costs start-up time.
        for register in _plugin_registrars(command):
            register(sub)  # type: ignore[operator]
    _accept_debug(parser)
    return parser


def _accept_debug(parser: argparse.ArgumentParser) -> None:
    """``--debug`` after a command too (``tide run FILE --debug``), not only before it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                if "--debug" not in command._option_string_actions:
                    command.add_argument(
                        "--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP
                    )
                _accept_debug(command)


def _command_name(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """``tide``: in a warm worker when one is running (see ``runtime.worker``), else here."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    words = [arg for arg in args_list if not arg.startswith("-")]
    if any(words[: len(command)] == list(command) for command in DELEGATED_COMMANDS):
        from runtime.worker import delegate

        code = delegate(args_list)
        if code is not None:
            return code
    return run_cli(args_list)


def console_main() -> NoReturn:
    """The ``tide`` command itself (its console script, ``python -m runtime``): ``main``, in a
    process that ends when it returns."""
    # Pydantic looks for plugins in every installed package's metadata when it first builds a
    # model: a scan of site-packages, and a plugin could only see Tide's own models here (a
    # procedure's code is Lua). An explicit setting, even empty, is kept.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    code = main()
    # The interpreter's last collection would walk every object the run left (the models'
    # schemas, the modules): tens of milliseconds, for memory the process is about to return.
    # Frozen objects are left out; exit handlers, open files and threads end as usual.
    gc.freeze()
    sys.exit(code)


def run_cli(args_list: list[str]) -> int:
    parser = build_parser(_command_name(args_list))
    args = parser.parse_args(args_list)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        code = int(handler(args))
        # Output still buffered is written now, where a reader that went away is handled.
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _reader_gone()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        return report_unexpected(exc, debug=args.debug)


def _reader_gone() -> int:
    """The reader of stdout closed it (``tide runs show ID --json | head``): stop quietly, as
    command-line tools do, with the status a process killed by SIGPIPE would have."""
    import os

    # What is left in the buffer can go nowhere; without this, Python reports the closed
    # pipe again when it flushes stdout at exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    console_main()
