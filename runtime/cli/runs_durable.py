"""``tide runs resume ID`` and ``tide runs answer ID VALUE``: take a stored run up again."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.run import RunResult

ACTIONS = ("resume", "answer")


def register(actions: Any, workspace_args: Callable[..., None]) -> None:
    resume: argparse.ArgumentParser = actions.add_parser(
        "resume",
        help="resume an interrupted run without repeating what it did",
        description="Resume an interrupted run under its own id: what it did before (model "
        "calls, tools, answers) comes from its journal, the rest runs live, streamed as by "
        "tide run, with the same exit status.",
    )
    resume.add_argument("run_id", metavar="ID", help="the run's id (or a unique prefix of it)")
    answer: argparse.ArgumentParser = actions.add_parser(
        "answer",
        help="answer a run that waits for a person, and resume it",
        description="Answer the question a waiting run asked (Human.approve/input/select/"
        "review/multiple), then resume the run. VALUE is JSON when it parses (true, 3, "
        '"text", {"decision": "Approve"}), else text. A Human.multiple request takes one '
        'object keyed by its fields: \'{"target": "prod", "confirm": true}\' (a field left '
        "out takes its default; a missing required field or a value of the wrong kind is "
        "refused, naming it, with exit status 2).",
    )
    answer.add_argument("run_id", metavar="ID", help="the run's id (or a unique prefix of it)")
    answer.add_argument("value", metavar="VALUE", help="the answer")
    answer.add_argument(
        "--request", metavar="REQUEST_ID", help="which request (when the run waits for several)"
    )
    for parser in (resume, answer):
        workspace_args(parser, default=argparse.SUPPRESS)
        parser.add_argument(
            "-q",
            "--quiet",
            action="store_true",
            default=argparse.SUPPRESS,
            help="no streaming; print only the output",
        )


def handle(args: argparse.Namespace) -> int:
    import anyio

    from runtime.cli._common import EXIT_USAGE, print_error, report_tide_error
    from runtime.errors import TideError
    from runtime.store import default_store_path
    from runtime.store.journal import RequestMismatch
    from runtime.store.opening import open_store

    path = default_store_path(args.workspace)
    if not path.is_file():
        print_error(f"no runs recorded in {args.workspace}", "tide runs lists recorded runs")
        return EXIT_USAGE
    store = open_store(path)
    try:
        result = anyio.run(lambda: _take_up(args, store))
    except RequestMismatch as exc:
        pending = ", ".join(str(p["request_id"]) for p in exc.pending) or "none"
        print_error(exc.message, f"pending requests: {pending}")
        return EXIT_USAGE
    except TideError as exc:
        return report_tide_error(exc, debug=args.debug)
    finally:
        store.close()
    quiet = getattr(args, "quiet", False)
    return report_result(result, json_out=args.json, quiet=quiet, debug=args.debug)


async def _take_up(args: argparse.Namespace, store: Any) -> RunResult:
    import sys

    from runtime.api import Runtime
    from runtime.cli._human import TerminalHuman
    from runtime.handlers import LogHandler
    from runtime.resume import parse_answer

    handlers: list[LogHandler] = []
    if not getattr(args, "quiet", False):
        from runtime.console import ConsoleHandler

        handlers.append(ConsoleHandler(sys.stderr if args.json else sys.stdout, debug=args.debug))
    options: dict[str, Any] = {"handlers": handlers, "human": TerminalHuman()}
    async with Runtime(store=store) as runtime:
        if args.runs_action == "answer":
            value = parse_answer(args.value)
            return await runtime.answer(args.run_id, args.request, value, **options)
        return await runtime.resume(args.run_id, **options)


def report_result(result: RunResult, *, json_out: bool, quiet: bool, debug: bool) -> int:
    """Print a run's result (``tide run``, ``tide runs resume|answer``); return its exit
    status (4: waiting for a person)."""
    import json
    import sys

    from runtime.cli._common import EXIT_FAILED, EXIT_OK, EXIT_WAITING

    if json_out:
        payload = {
            "run_id": result.run_id,
            "status": result.status,
            "output": result.output,
            "error": result.error.model_dump() if result.error else None,
            "partial_text": result.partial_text,
            "totals": result.totals.model_dump(),
            "pending": result.pending,
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
    elif quiet and result.output is not None:
        print(json.dumps(result.output, ensure_ascii=False, indent=2, default=str))
    if result.status == "waiting":
        print_waiting(result.run_id, result.pending, sys.stderr)
        return EXIT_WAITING
    if quiet and not result.ok:
        _print_failure(result, debug=debug)
    return EXIT_OK if result.ok else EXIT_FAILED


def _print_failure(result: RunResult, *, debug: bool) -> None:
    """Quiet means no streaming, not silence: why the run did not complete goes to stderr."""
    import sys

    from runtime.cli._common import print_error

    if result.error is not None:
        where = result.error.location()
        message = f"{where}: {result.error.message}" if where else result.error.message
        print_error(message, result.error.hint)
        if debug and result.error.detail:
            print(f"  detail: {result.error.detail.rstrip()}", file=sys.stderr)
    else:
        print_error(f"the run was {result.status}")
    if result.partial_text:
        print_error(f"partial text kept ({len(result.partial_text)} characters): see --json")


def print_waiting(run_id: str, pending: list[dict[str, Any]], stream: Any) -> None:
    """How to answer a run that waits for a person."""
    import json

    from runtime.human_fields import answer_example

    for request in pending:
        print(f"\nrun {run_id} is waiting for a person: {request['message']}", file=stream)
        if request.get("options"):
            print(f"  options: {json.dumps(request['options'])}", file=stream)
        for field in request.get("fields") or []:
            message = " ".join(str(field["message"]).split())  # one line per field
            print(f"  {field['id']}: {message} ({_field_shape(field)})", file=stream)
        extra = f" --request {request['request_id']}" if len(pending) > 1 else ""
        if request["kind"] == "multiple":
            example = "'" + json.dumps(answer_example(request["fields"])) + "'"
        else:
            example = "true" if request["kind"] == "approve" else "VALUE"
        print(f"  answer it with: tide runs answer {run_id} {example}{extra}", file=stream)


def _field_shape(field: dict[str, Any]) -> str:
    import json

    shape = {
        "approve": "true or false",
        "input": "text",
        "review": '{"decision": "Approve"|"Edit"|"Reject", "feedback": ...}',
        "select": "one of "
        + ", ".join(json.dumps(o, ensure_ascii=False) for o in field.get("options") or []),
    }[field["type"]]
    if field["type"] == "select" and field.get("mode") == "multiple":
        shape = "a list of " + shape.removeprefix("one of ")
    if field.get("default") is not None:
        return f"{shape}; default {json.dumps(field['default'], ensure_ascii=False)}"
    return shape if field.get("required", True) else f"{shape}; optional"
