"""``tide run FILE --over inputs.jsonl``: a run per line, with progress, results in order."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from runtime.batch import BatchLine, BatchResult
from runtime.console import format_cost
from runtime.events import CostEvent, Event


class BatchDisplay:
    """Progress on a terminal (a Rich bar: done, failed, running, tokens, cost, ETA); a plain
    line per finished input otherwise."""

    def __init__(
        self, total: int, file: IO[str], *, quiet: bool = False, terminal: bool | None = None
    ) -> None:
        self.console = Console(file=file, highlight=False, soft_wrap=True, force_terminal=terminal)
        self.total = total
        self.quiet = quiet
        self.done = self.failed = self.running = self.reused = 0
        self.tokens = 0
        self.cost = 0.0
        self.started_at = time.monotonic()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> BatchDisplay:
        if self.console.is_terminal and not self.quiet:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("runs", total=self.total, status="")
            self._refresh()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._refresh()
            self._progress.stop()

    def _status(self) -> str:
        return (
            f"[red]{self.failed} failed[/] · {self.running} running · "
            f"{self.tokens:,} tokens · {format_cost(self.cost)}"
        )

    def _refresh(self) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=self.done, status=self._status())

    def started(self, line: BatchLine) -> None:
        self.running += 1
        self._refresh()

    def usage(self, event: CostEvent) -> None:
        self.tokens += event.total_tokens
        self.cost += event.cost_usd
        self._refresh()

    def finished(self, result: BatchResult) -> None:
        self.done += 1
        if result.reused:
            self.reused += 1
        else:
            self.running -= 1
        if not result.ok:
            self.failed += 1
        if self._progress is not None:
            if not result.ok:
                self._progress.console.print(f"[red]line {result.line}: {_why(result)}[/]")
            self._refresh()
        elif not self.quiet:
            self.console.print(_plain_line(result, self.done, self.total))

    def summary(self, out: str | None) -> str:
        completed = self.done - self.failed
        reused = f" ({self.reused} from earlier runs)" if self.reused else ""
        seconds = time.monotonic() - self.started_at
        text = (
            f"{self.total} inputs: {completed} completed{reused}, {self.failed} failed · "
            f"{self.tokens:,} tokens · {format_cost(self.cost)} · {seconds:.1f} s"
        )
        return text + (f" · results in {out}" if out else "")


def _why(result: BatchResult) -> str:
    if result.error is None:
        return result.status
    where = result.error.location()
    return f"{result.status}: {where + ': ' if where else ''}{result.error.message}"


def _plain_line(result: BatchResult, done: int, total: int) -> str:
    if result.reused:
        what = f"completed earlier (run {result.run_id})"
    elif result.ok:
        what = f"completed (run {result.run_id})"
    else:
        what = _why(result) + (f" (run {result.run_id})" if result.run_id else "")
    totals = result.totals
    return (
        f"[{done}/{total}] line {result.line}: {what} · {totals.total_tokens} tokens · "
        f"{format_cost(totals.cost_usd)}"
    )


class OrderedResults:
    """Writes results to a JSONL file in input order as soon as every earlier line is in, so
    an interrupted batch leaves a correct prefix."""

    def __init__(self, path: str | None, order: list[int]) -> None:
        # Open for the batch's life; ``close`` ends it.
        self._file = Path(path).open("w", encoding="utf-8") if path else None  # noqa: SIM115
        self._order = order
        self._next = 0
        self._waiting: dict[int, BatchResult] = {}

    def add(self, result: BatchResult) -> None:
        if self._file is None:
            return
        self._waiting[result.line] = result
        while self._next < len(self._order) and self._order[self._next] in self._waiting:
            ready = self._waiting.pop(self._order[self._next])
            self._file.write(json.dumps(ready.to_json(), ensure_ascii=False, default=str) + "\n")
            self._next += 1
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class _Usage:
    """A log handler feeding the display the tokens and cost of the runs going on."""

    def __init__(self, display: BatchDisplay) -> None:
        self.display = display

    def log(self, event: Event) -> None:
        if isinstance(event, CostEvent):
            self.display.usage(event)


def handle_batch(args: argparse.Namespace, tags: dict[str, str]) -> int:
    import anyio

    from runtime.api import Runtime
    from runtime.batch import (
        KEY_TAG,
        LINE_TAG,
        load_batch,
        run_batch,
    )
    from runtime.cli._common import (
        EXIT_FAILED,
        EXIT_OK,
        EXIT_USAGE,
        close_all,
        events_file,
        open_store,
        print_error,
    )
    from runtime.config import RuntimeConfig
    from runtime.handlers import LogHandler
    from runtime.human import HumanResponder
    from runtime.inspect import inspect_procedure
    from runtime.source import ProcedureSource
    from runtime.store import StoreHandler

    if args.concurrency < 1:
        print_error("--concurrency must be at least 1")
        return EXIT_USAGE
    if args.param:
        print_error("--param cannot be combined with --over", "put the inputs in each line")
        return EXIT_USAGE
    config = RuntimeConfig.from_env(timeout_s=args.timeout)
    source = ProcedureSource.from_path(args.file)
    info = inspect_procedure(source, timeout_s=config.inspect_timeout_s)
    lines = load_batch(args.over, info, source, model=args.model, mock=args.mock)
    jsonl = None
    if args.events:
        jsonl = events_file(args.events, source, append=args.events_append)
        if jsonl is None:
            return EXIT_USAGE
    store = None if args.no_store else open_store()
    display = BatchDisplay(len(lines), sys.stderr, quiet=args.quiet)
    usage = _Usage(display)
    out = OrderedResults(args.out, [line.number for line in lines])

    def on_result(result: BatchResult) -> None:
        display.finished(result)
        out.add(result)

    async def main() -> list[BatchResult]:
        async with Runtime(config) as runtime:
            if not args.mock:
                await runtime.check_models(info, args.model)

            async def run_line(line: BatchLine) -> BatchResult:
                handlers: list[LogHandler] = [usage]
                if store is not None:
                    handlers.append(StoreHandler(store, model=args.model, mock=args.mock))
                if jsonl is not None:
                    handlers.append(jsonl)
                result = await runtime.run(
                    source,
                    line.inputs,
                    handlers=handlers,
                    mock=args.mock,
                    model=args.model,
                    human=HumanResponder(mock=args.mock),
                    tags={**tags, KEY_TAG: line.key, LINE_TAG: str(line.number)},
                )
                return BatchResult(
                    line.number,
                    line.inputs,
                    result.run_id,
                    result.status,
                    output=result.output,
                    error=result.error,
                    totals=result.totals,
                )

            return await run_batch(
                lines,
                run_line,
                concurrency=args.concurrency,
                on_result=on_result,
                on_start=display.started,
                store=store,
            )

    try:
        with display:
            results = anyio.run(main)
    finally:
        close_all(out, jsonl, store)
    if args.json:
        payload = {
            "results": [r.to_json() for r in results],
            "completed": sum(r.ok for r in results),
            "failed": sum(not r.ok for r in results),
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
    else:
        Console(file=sys.stderr, highlight=False, soft_wrap=True).print(display.summary(args.out))
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILED
