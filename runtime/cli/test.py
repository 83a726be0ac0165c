"""``tide test FILE|DIR...``: run procedures' specifications, fast and mocked."""

from __future__ import annotations

import argparse
from typing import Any

from runtime.cli._common import positive_int, positive_seconds


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "test",
        help="run procedures' Gherkin specifications",
        description=(
            "Run the Specification([[...]]) scenarios of procedures, each in its own sandboxed "
            "run in this process, several at once. Agents answer from the scenario's Given "
            "steps, else the procedure's Mocks {}, else with a stand-in reply; --real calls "
            "their models instead. Exit status: 0 all passed, 1 a scenario failed, 2 a file "
            "could not be tested (missing, invalid Lua or Gherkin) or bad options."
        ),
    )
    parser.add_argument(
        "paths", nargs="*", metavar="FILE|DIR", help="procedures or folders of them"
    )
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an input of every scenario that does not set it (repeatable); files that do not "
        "declare the input ignore it",
    )
    parser.add_argument(
        "--tags", metavar="EXPR", help='run scenarios whose tags match, e.g. "@fast and not @slow"'
    )
    parser.add_argument(
        "-k", "--scenario", metavar="NAME", help="run scenarios whose name contains NAME"
    )
    parser.add_argument(
        "--workers", type=positive_int, metavar="N", help="scenarios at once (default: CPU count)"
    )
    parser.add_argument(
        "--runs",
        type=positive_int,
        metavar="N",
        help="run each scenario N times and report its pass rate and flakiness "
        "(default: the file's Evaluation { runs = N }, else 1)",
    )
    parser.add_argument(
        "--mock",
        action="store_true",
        help="agents answer from mocks (the default in tests; kept for Tactus's command line)",
    )
    parser.add_argument(
        "--real", action="store_true", help="agents call their models instead of mocks"
    )
    parser.add_argument("--model", help="with --real: use this model for every agent")
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        metavar="SECONDS",
        help="per scenario (default 30, 300 with --real)",
    )
    parser.add_argument("--junit", metavar="FILE", help="also write JUnit XML to FILE")
    parser.add_argument(
        "--json", action="store_true", help="print the results as JSON instead of text"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show each failing scenario's events"
    )
    parser.add_argument(
        "--list-steps", action="store_true", help="print the built-in steps' phrasings and exit"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import json
    import sys

    import anyio

    from runtime.cli._common import EXIT_USAGE, print_error, report_tide_error
    from runtime.errors import TideError
    from runtime.testing import TestOptions, run_tests
    from runtime.testing.export import report_json, write_junit
    from runtime.testing.report import ConsoleReport

    if args.list_steps:
        from runtime.testing.runner import list_steps

        for kind, example in list_steps():
            print(f"{kind.capitalize():<5} {example}")
        return 0
    if not args.paths:
        print_error("give procedure files or folders to test", "e.g. tide test procedures/")
        return EXIT_USAGE
    if args.mock and args.real:
        print_error("--mock and --real exclude each other")
        return EXIT_USAGE
    if args.model and not args.real:
        print_error("--model needs --real: mocked agents do not call a model")
        return EXIT_USAGE
    from runtime.cli.run import parse_params

    try:
        params = parse_params(args.param)
    except TideError as exc:
        return report_tide_error(exc, debug=args.debug)
    options = TestOptions(
        params=params,
        tags=args.tags,
        name=args.scenario,
        workers=args.workers,
        runs=args.runs,
        real=args.real,
        model=args.model,
        timeout_s=args.timeout,
    )
    console = (
        None if args.json else ConsoleReport(sys.stdout, verbose=args.verbose, runs=args.runs or 1)
    )
    try:
        report = anyio.run(
            lambda: run_tests(args.paths, options, console.scenario if console else None)
        )
    except TideError as exc:
        return report_tide_error(exc, debug=args.debug)
    if console is not None:
        console.finish(report)
    else:
        print(json.dumps(report_json(report), ensure_ascii=False, indent=2, default=str))
    if args.junit:
        write_junit(report, args.junit)
    return report.exit_code
