"""``tide validate FILE...``: check procedures without running them."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "validate",
        help="check procedures without running them",
        description="Parse and check procedures: syntax, declarations, agents, fields, specifications.",
    )
    parser.add_argument("files", nargs="+", help="procedure files (.tac or .lua)")
    parser.add_argument("--json", action="store_true", help="print diagnostics as JSON")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import json

    from runtime.cli._common import EXIT_OK, EXIT_USAGE, print_error
    from runtime.errors import TideError
    from runtime.source import ProcedureSource
    from runtime.validate import validate_source

    failed = False
    reports = []
    for file in args.files:
        try:
            source = ProcedureSource.from_path(file)
        except TideError as exc:
            failed = True
            if args.json:
                reports.append(
                    {
                        "file": file,
                        "ok": False,
                        "diagnostics": [
                            {"severity": "error", "message": exc.message, "line": 1, "column": 1}
                        ],
                        "procedure": None,
                    }
                )
            else:
                print_error(str(exc), exc.hint)
            continue
        report = validate_source(source)
        failed = failed or not report.ok
        if args.json:
            reports.append({"file": source.display_name, **report.describe()})
            continue
        for diagnostic in report.diagnostics:
            print(diagnostic)
        if report.ok:
            info = report.info
            summary = ""
            if info is not None:
                summary = (
                    f" ({info.mode}: {len(info.agents)} agents, {len(info.inputs)} inputs, "
                    f"{len(info.specifications)} specifications)"
                )
            print(f"✓ {source.display_name} is valid{summary}")
    if args.json:
        print(json.dumps(reports if len(reports) != 1 else reports[0], indent=2, default=str))
    return EXIT_USAGE if failed else EXIT_OK
