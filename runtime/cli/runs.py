"""``tide runs``: recorded runs (list, or replay one); ``tide stats``: analytics over them."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from runtime.cli import runs_durable
from runtime.cli._common import positive_int

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from runtime.store import RunRecord, SQLiteStore

_STATUSES = ("queued", "running", "waiting", "completed", "failed", "cancelled")
_STATUS_STYLE = {
    "queued": "dim",
    "running": "cyan",
    "waiting": "magenta",
    "completed": "green",
    "failed": "red",
    "cancelled": "yellow",
}


def register(sub: Any) -> None:
    runs: argparse.ArgumentParser = sub.add_parser(
        "runs",
        help="list recorded runs, or replay one",
        description="List the runs recorded in a workspace (newest first), or replay one.",
    )
    _workspace_args(runs)
    runs.add_argument("--procedure", metavar="P", help="only runs of this procedure")
    runs.add_argument("--status", choices=_STATUSES, help="only runs with this status")
    runs.add_argument("--limit", type=positive_int, default=20, metavar="N", help="at most N runs")
    _tag_arg(runs)
    actions = runs.add_subparsers(dest="runs_action", metavar="ACTION")
    show = actions.add_parser(
        "show",
        help="replay a run's events as they were shown live",
        description="Replay a recorded run's events to the terminal, or print them as JSON.",
    )
    show.add_argument("run_id", metavar="ID", help="the run's id (or a unique prefix of it)")
    # SUPPRESS keeps `tide runs --json show X` and `tide runs show X --json` both working.
    _workspace_args(show, default=argparse.SUPPRESS)
    runs_durable.register(actions, _workspace_args)
    runs.set_defaults(handler=handle_runs)

    stats: argparse.ArgumentParser = sub.add_parser(
        "stats",
        help="time to first token, duration, tokens and cost of recorded runs",
        description="Aggregates per model, agent or procedure: count, average, p50 and p95.",
    )
    _workspace_args(stats)
    stats.add_argument("--by", choices=("model", "agent", "procedure"), default="model")
    stats.add_argument(
        "--since", default="7d", metavar="WINDOW", help="e.g. 1h, 24h, 7d, 30d or all (7d)"
    )
    stats.add_argument(
        "--include-mock", action="store_true", help="count runs made with --mock too"
    )
    stats.add_argument(
        "--every",
        metavar="WIDTH",
        help="a time series: p50/p95 first token and cost per key every WIDTH (e.g. 1h, 1d)",
    )
    _tag_arg(stats)
    stats.set_defaults(handler=handle_stats)


def _tag_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="only runs with this tag (repeatable: all must match)",
    )


def _tags(args: argparse.Namespace) -> dict[str, str]:
    from runtime.run_tags import parse_tag_args

    return parse_tag_args(args.tag)


def _workspace_args(parser: argparse.ArgumentParser, default: Any = None) -> None:
    parser.add_argument(
        "--workspace",
        metavar="DIR",
        default="." if default is None else default,
        help="the workspace whose .tide/runs.db to read (default: the current directory)",
    )
    parser.add_argument(
        "--json", action="store_true", default=False if default is None else default
    )


def _open(workspace: str) -> SQLiteStore | None:
    import sys

    from runtime.store import default_store_path
    from runtime.store.opening import open_history, read_only_note

    path: Path = default_store_path(workspace)
    store = open_history(path) if path.is_file() else None
    if store is not None and store.readonly:
        print(read_only_note(path, "shown as it is"), file=sys.stderr)
    return store


def _no_store(workspace: str) -> str:
    return (
        f"no runs recorded in {workspace} yet (tide run and tide ide record them in .tide/runs.db)"
    )


def handle_runs(args: argparse.Namespace) -> int:
    if getattr(args, "runs_action", None) == "show":
        return _show(args)
    if getattr(args, "runs_action", None) in runs_durable.ACTIONS:
        return runs_durable.handle(args)
    tags = _tags(args)
    return _report(
        args,
        lambda store: store.list_runs(
            procedure=args.procedure, status=args.status, limit=args.limit, tags=tags
        ),
        as_json=lambda records: [r.summary() for r in records],
        show=_print_runs,
        nothing="no runs match",
    )


def _report(
    args: argparse.Namespace,
    query: Callable[[SQLiteStore], Awaitable[list[Any]]],
    *,
    as_json: Callable[[list[Any]], Any],
    show: Callable[[list[Any]], None],
    nothing: str,
) -> int:
    """Ask the workspace's history ``query``; print the answer as JSON (``--json``) or with
    ``show``, or say that there is no history or nothing in it."""
    import json

    import anyio

    from runtime.cli._common import EXIT_OK

    store = _open(args.workspace)
    found: list[Any] = []
    if store is not None:
        try:
            found = anyio.run(lambda: query(store))
        finally:
            store.close()
    if args.json:
        print(json.dumps(as_json(found), ensure_ascii=False, indent=2))
    elif store is None:
        print(_no_store(args.workspace))
    elif not found:
        print(nothing)
    else:
        show(found)
    return EXIT_OK


def _print_runs(records: list[RunRecord]) -> None:
    from rich.table import Table

    from runtime.console import format_cost, format_ms

    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("run", "procedure", "status", "started", "duration", "tokens", "cost"):
        table.add_column(
            column,
            justify="right" if column in ("tokens", "cost") else "left",
            no_wrap=column != "procedure",
            overflow="fold",
        )
    table.add_column("model", overflow="fold")
    show_tags = any(r.tags for r in records)
    if show_tags:
        table.add_column("tags", overflow="fold")
    for r in records:
        moment = r.started_at or r.created_at
        style = _STATUS_STYLE.get(r.status, "")
        table.add_row(
            r.id,
            r.procedure,
            f"[{style}]{r.status}[/]",
            moment.astimezone().strftime("%Y-%m-%d %H:%M"),
            format_ms(r.totals.duration_ms) if r.finished else "–",
            str(r.totals.total_tokens),
            format_cost(r.totals.cost_usd),
            r.model or "",
            *([" ".join(f"{k}={v}" for k, v in r.tags.items())] if show_tags else []),
        )
    _console().print(table)


def _console() -> Any:
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:
        # Piped output is read by people and scripts alike: do not wrap rows at 80 columns.
        console.width = 200
    return console


def _show(args: argparse.Namespace) -> int:
    import json
    import sys

    import anyio

    from runtime.cli._common import EXIT_OK, EXIT_USAGE, print_error
    from runtime.console import ConsoleHandler

    store = _open(args.workspace)
    if store is None:
        print_error(_no_store(args.workspace))
        return EXIT_USAGE
    try:
        found = anyio.run(lambda: _find(store, args.run_id))
        if isinstance(found, str):
            print_error(found, "list runs with `tide runs`")
            return EXIT_USAGE
        record = found
        events = anyio.run(lambda: store.read_events(record.id))
    finally:
        store.close()
    if args.json:
        payload = {
            "run": record.detail(),
            "events": [e.model_dump(mode="json", exclude={"accumulated_text"}) for e in events],
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
        return EXIT_OK
    console = ConsoleHandler(sys.stdout, debug=args.debug)
    for event in events:
        console.log(event)
    if not record.finished:
        console.console.print(
            f"\n[dim]the run is {record.status}: {len(events)} events recorded so far[/]"
        )
    if record.status == "waiting":
        from runtime.cli.runs_durable import print_waiting

        print_waiting(record.id, record.pending, sys.stdout)
    if record.resumable:
        print(f"\nthe run can be resumed: tide runs resume {record.id}", file=sys.stdout)
    return EXIT_OK


async def _find(store: SQLiteStore, run_id: str) -> RunRecord | str:
    """The run with this id, or the only one whose id starts with it; else what is wrong."""
    record = await store.get_run(run_id)
    if record is not None:
        return record
    matches = await store.list_runs(id_prefix=run_id, limit=2)
    if len(matches) == 1:
        return matches[0]
    if matches:
        return f"'{run_id}' matches several runs; give more of the id"
    return f"no run '{run_id}'"


def handle_stats(args: argparse.Namespace) -> int:
    from runtime.cli._common import EXIT_USAGE, print_error
    from runtime.store import parse_since

    try:
        window = parse_since(args.since)
    except ValueError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    tags = _tags(args)
    if args.every is not None:
        return _series(args, window, tags)
    return _report(
        args,
        lambda store: store.stats(args.by, since=window, include_mock=args.include_mock, tags=tags),
        as_json=lambda rows: {
            "by": args.by,
            "since": args.since,
            "rows": [r.to_json() for r in rows],
        },
        show=lambda rows: _print_stats(args.by, rows),
        nothing=_nothing(args.since, window),
    )


def _nothing(since: str, window: Any) -> str:
    return f"nothing recorded in the last {since}" if window else "nothing recorded"


def _pair(low: float | None, high: float | None, fmt: Any) -> str:
    """A p50 / p95 pair, or a dash when there is none."""
    return f"{fmt(low)} / {fmt(high)}" if low is not None else "–"


def _table(by: str, *columns: str, right_from: int = 0) -> Any:
    """A table keyed by ``by``; the columns from ``right_from`` on hold numbers."""
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column(by, overflow="fold")
    for index, column in enumerate(columns):
        table.add_column(column, justify="right" if index >= right_from else "left")
    return table


def _print_stats(by: str, rows: list[Any]) -> None:
    from runtime.console import format_cost, format_ms

    def tokens(value: float | None, estimated: int) -> str:
        # "~" and how many turns' usage was Tide's count rather than the provider's.
        text = "–" if value is None else f"{value:.0f}"
        return f"~{text} ({estimated} estimated)" if estimated else text

    table = _table(
        by,
        "count",
        "first token p50/p95",
        "first visible p50/p95",
        "duration p50/p95",
        "tokens avg",
        "cost",
        "alerts",
    )
    for row in rows:
        table.add_row(
            row.key,
            str(row.count),
            _pair(row.ttft_ms.p50, row.ttft_ms.p95, format_ms),
            _pair(row.first_visible_ms.p50, row.first_visible_ms.p95, format_ms),
            _pair(row.duration_ms.p50, row.duration_ms.p95, format_ms),
            tokens(row.total_tokens.avg, row.usage_estimated),
            format_cost(row.cost_sum or 0.0),
            f"[yellow]{row.alerts}[/]" if row.alerts else "0",
        )
    _console().print(table)


def _series(args: argparse.Namespace, window: Any, tags: dict[str, str]) -> int:
    from runtime.cli._common import EXIT_USAGE, print_error
    from runtime.store import parse_since

    try:
        every = parse_since(args.every)
    except ValueError as exc:
        print_error(f"--every: {exc}")
        return EXIT_USAGE
    if every is None:
        print_error("--every takes a width such as 5m, 1h or 1d")
        return EXIT_USAGE
    return _report(
        args,
        lambda store: store.series(
            args.by, every=every, since=window, include_mock=args.include_mock, tags=tags
        ),
        as_json=lambda points: {
            "by": args.by,
            "since": args.since,
            "every": args.every,
            "series": [p.to_json() for p in points],
        },
        show=lambda points: _print_series(args.by, points),
        nothing=_nothing(args.since, window),
    )


def _print_series(by: str, points: list[Any]) -> None:
    from runtime.console import format_cost, format_ms

    table = _table(by, "from", "count", "first token p50/p95", "cost p50/p95", "cost", right_from=1)
    for point in sorted(points, key=lambda p: (p.key, p.start)):
        table.add_row(
            point.key,
            point.start.astimezone().strftime("%Y-%m-%d %H:%M"),
            str(point.count),
            _pair(point.ttft_ms.p50, point.ttft_ms.p95, format_ms),
            _pair(point.cost_usd.p50, point.cost_usd.p95, format_cost),
            format_cost(point.cost_sum or 0.0),
        )
    _console().print(table)
