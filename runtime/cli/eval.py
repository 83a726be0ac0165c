"""``tide eval FILE``: score a procedure against its ``Evaluations`` dataset."""

from __future__ import annotations

import argparse
from typing import Any

from runtime.cli._common import positive_int, positive_seconds


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "eval",
        help="score a procedure against its Evaluations dataset",
        description=(
            "Run every case of the procedure's Evaluations { dataset, evaluators, thresholds } "
            "(each case `runs` times, in parallel, each run in its own sandbox), score every "
            "run with every evaluator, and print a table per case with the pass rate, cost, "
            "tokens and duration. Exit status: 0 every threshold met (or none set), 1 a "
            "threshold missed, 2 the file cannot be evaluated or bad options."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the procedure (.tac)")
    parser.add_argument(
        "--mock",
        action="store_true",
        help="agents and models answer from Mocks {}; llm_judge evaluators are not called",
    )
    parser.add_argument(
        "--runs",
        type=positive_int,
        metavar="N",
        help="runs per case (default: the file's runs, or 1)",
    )
    parser.add_argument("--model", help="use this model for every agent (and the judges)")
    parser.add_argument(
        "--workers", type=positive_int, metavar="N", help="runs at once (default: CPU count)"
    )
    parser.add_argument("--timeout", type=positive_seconds, metavar="SECONDS", help="per run")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--junit", metavar="FILE", help="also write JUnit XML to FILE")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    import anyio

    from runtime.cli._common import report_tide_error
    from runtime.errors import TideError
    from runtime.evaluation.report import junit_xml, print_report, report_json
    from runtime.evaluation.runner import EvalOptions, run_evaluation

    options = EvalOptions(
        mock=args.mock,
        runs=args.runs,
        model=args.model,
        timeout_s=args.timeout,
        workers=args.workers,
    )
    try:
        report = anyio.run(run_evaluation, args.file, options)
    except TideError as exc:
        return report_tide_error(exc, debug=args.debug)
    if args.json:
        print(json.dumps(report_json(report), ensure_ascii=False, indent=2, default=str))
    else:
        print_report(report, sys.stdout)
    if args.junit:
        Path(args.junit).write_text(junit_xml(report), encoding="utf-8")
    return 0 if report.ok else 1
