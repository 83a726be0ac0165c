"""``tide run FILE``: run a procedure, streaming to the terminal."""

from __future__ import annotations

import argparse
from typing import Any

from runtime.cli._common import positive_int, positive_seconds


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "run",
        help="run a procedure",
        description="Run a procedure, streaming its events to the terminal.",
    )
    parser.add_argument("file", help="the procedure (.tac or .lua)")
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an input value (repeatable); converted to the declared type",
    )
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a tag stored with the run (repeatable); filter with `tide runs --tag`",
    )
    parser.add_argument(
        "--mock", action="store_true", help="agents answer from the procedure's Mocks {}"
    )
    from runtime.models.providers import example_models

    parser.add_argument(
        "--model",
        help=f"use this model for every agent (e.g. {', '.join(example_models())})",
    )
    parser.add_argument(
        "--events",
        metavar="FILE.jsonl",
        help="also write every event to this file, replacing what it held",
    )
    parser.add_argument(
        "--events-append",
        action="store_true",
        help="with --events: add to the file instead of replacing it",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no streaming; print only the output"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show debug logs and validation passes"
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        metavar="SECONDS",
        help="stop the run after this long (default 600)",
    )
    parser.add_argument(
        "--smooth",
        choices=("word", "line"),
        help="show streamed text a word or a line at a time (held back at most 100 ms)",
    )
    parser.add_argument(
        "--over",
        metavar="INPUTS.jsonl",
        help="run once per line of this file (a JSON object of inputs each); "
        "a second time, lines already completed are taken from the store",
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        metavar="N",
        help="with --over: at most N runs at once (default 4)",
    )
    parser.add_argument(
        "--out", metavar="RESULTS.jsonl", help="with --over: each line's result, in input order"
    )
    parser.add_argument(
        "--no-store",
        action="store_true",
        help="do not record the run in ./.tide/runs.db (see `tide runs`)",
    )
    parser.set_defaults(handler=handle)


def parse_params(pairs: list[str]) -> dict[str, str]:
    from runtime.errors import InputValidationError
    from runtime.events import ValidationIssue

    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InputValidationError(
                f"--param expects NAME=VALUE, got {pair!r}",
                [ValidationIssue(path=pair, message="expected NAME=VALUE")],
                hint="e.g. --param topic=robots",
            )
        params[name.strip()] = value
    return params


def handle(args: argparse.Namespace) -> int:
    import sys

    import anyio

    from runtime.api import Runtime
    from runtime.cli._common import (
        EXIT_USAGE,
        close_all,
        events_file,
        open_store,
        print_error,
        report_tide_error,
    )
    from runtime.cli._human import TerminalHuman
    from runtime.config import RuntimeConfig
    from runtime.errors import TideError
    from runtime.handlers import LogHandler
    from runtime.run_tags import parse_tag_args
    from runtime.smoothing import alongside
    from runtime.source import ProcedureSource

    try:
        tags = parse_tag_args(args.tag)
        if args.over is None and (args.concurrency is not None or args.out is not None):
            print_error("--concurrency and --out go with --over FILE.jsonl")
            return EXIT_USAGE
        if args.over is not None:
            from runtime.cli.batch import handle_batch

            args.concurrency = 4 if args.concurrency is None else args.concurrency
            return handle_batch(args, tags)
        source = ProcedureSource.from_path(args.file)
        params = parse_params(args.param)
        config = RuntimeConfig.from_env(timeout_s=args.timeout)
    except TideError as exc:
        return report_tide_error(exc, debug=args.debug)

    handlers: list[LogHandler] = []
    smoothed = None
    if not args.quiet:
        from runtime.console import ConsoleHandler

        console = ConsoleHandler(
            sys.stderr if args.json else sys.stdout,
            show_output=not args.json,
            verbose=args.verbose,
            debug=args.debug,
        )
        if args.smooth:
            from runtime.smoothing import SmoothedHandler

            smoothed = SmoothedHandler(console, args.smooth)
        handlers.append(smoothed or console)
    jsonl = None
    if args.events:
        jsonl = events_file(args.events, source, append=args.events_append)
        if jsonl is None:
            return EXIT_USAGE
        handlers.append(jsonl)
    store = None if args.no_store else open_store()
    if store is not None:
        from runtime.store import StoreHandler

        handlers.append(StoreHandler(store, model=args.model, mock=args.mock))
    from runtime.executor.watchdog import Watchdog

    # Only a run that streams has handlers: a watchdog among them would make it stream.
    watchdog = Watchdog(
        config.timeout_s,
        config.inspect_timeout_s,
        follows=bool(handlers),
        max_memory=config.max_memory,
        calls_models=not args.mock,
    )
    if handlers:
        handlers.insert(0, watchdog)
    try:

        async def watched() -> Any:
            async with Runtime(config) as runtime:
                run = runtime.create_run(
                    source,
                    params,
                    handlers=handlers,
                    mock=args.mock,
                    model=args.model,
                    inputs_from_strings=True,
                    human=TerminalHuman(mock=args.mock),
                    tags=tags,
                )
                # Should it have to end the process, it names where the code was.
                watchdog.where = run.where
                return await run.execute()

        result = anyio.run(lambda: alongside(smoothed, watched))
    except TideError as exc:
        return report_tide_error(exc, debug=args.debug)
    finally:
        watchdog.disarm()
        close_all(jsonl, store)
    from runtime.cli.runs_durable import report_result

    return report_result(result, json_out=args.json, quiet=args.quiet, debug=args.debug)
