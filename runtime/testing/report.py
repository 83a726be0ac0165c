"""``tide test`` in the terminal: a line per scenario as results come in, then each failure
(the step, expected against actual, the procedure's output), then the summary line.
Colour on a terminal, plain text otherwise."""

from __future__ import annotations

import difflib
import json
from typing import IO, Any

from rich.console import Console
from rich.markup import escape

from runtime.testing.results import Attempt, Failure, Problem, ScenarioReport, TestReport
from runtime.testing.values import show

_MARK = {"passed": "[green]✓[/]", "failed": "[red]✗[/]", "skipped": "[yellow]-[/]"}
# Expected/actual texts longer than this (or with several lines) are shown as a diff.
_DIFF_OVER = 80
_EVENT_NOISE = frozenset({"run_id", "seq", "ts", "type"})


def format_ms(ms: float) -> str:
    return f"{ms:.1f} ms" if ms < 100 else f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ConsoleReport:
    def __init__(self, file: IO[str], *, verbose: bool = False, runs: int = 1) -> None:
        self.console = Console(file=file, highlight=False, soft_wrap=True, emoji=False)
        self.verbose = verbose
        self.runs = runs
        self._file: str | None = None

    def print(self, text: str = "") -> None:
        self.console.print(text)

    def scenario(self, report: ScenarioReport) -> None:
        scenario = report.scenario
        if scenario.file != self._file:
            self._file = scenario.file
            self.print(f"[bold]{escape(scenario.file)}[/]")
        line = f"  {_MARK[report.status]} {escape(scenario.title)}"
        if report.skipped:
            self.print(f"{line} [dim](skipped)[/]")
        elif len(report.attempts) > 1:
            flaky = ", [yellow]flaky[/]" if report.flaky else ""
            self.print(
                f"{line} [dim]{report.passed_runs}/{len(report.attempts)} runs passed"
                f" ({report.pass_rate:.0%}){flaky}, {format_ms(report.duration_ms)} avg[/]"
            )
        else:
            self.print(f"{line} [dim]({format_ms(report.duration_ms)})[/]")
        notes = {note for attempt in report.attempts for note in attempt.notes}
        for note in sorted(notes):
            self.print(f"    [dim]note: {escape(note)}[/]")

    def finish(self, report: TestReport) -> None:
        for problem in report.problems:
            self.problem(problem)
        failed = [s for s in report.scenarios if s.status == "failed"]
        if failed:
            self.print()
            self.print("[bold red]Failures[/]")
            for scenario in failed:
                self.failure(scenario)
        self.print()
        if not report.scenarios and not report.problems:
            self.print(
                "[yellow]no scenarios found[/] [dim](procedures declare them in Specification([[ ... ]]))[/]"
            )
        if report.runs > 1:
            flaky = sum(1 for s in report.scenarios if s.flaky)
            attempts = [a for s in report.scenarios for a in s.attempts]
            rate = sum(a.passed for a in attempts) / len(attempts) if attempts else 0.0
            self.print(
                f"[dim]{report.runs} runs per scenario: {rate:.0%} of runs passed, "
                f"{flaky} flaky scenario{'s' if flaky != 1 else ''}[/]"
            )
        self.print(
            f"[dim]{len(report.scenarios)} scenario{'s' if len(report.scenarios) != 1 else ''} "
            f"from {report.files} "
            f"file{'s' if report.files != 1 else ''} in {report.duration_s:.2f} s[/]"
        )
        colour = "red" if report.exit_code else "green"
        self.console.print(f"[bold {colour}]{report.summary()}[/]")

    def problem(self, problem: Problem) -> None:
        self.print(f"[bold red]error:[/] {escape(problem.location())}: {escape(problem.message)}")
        if problem.hint:
            self.print(f"  [yellow]hint:[/] {escape(problem.hint)}")

    def failure(self, report: ScenarioReport) -> None:
        attempt = report.first_failure
        scenario = report.scenario
        self.print()
        runs = ""
        if len(report.attempts) > 1:
            runs = f" [dim](failed {len(report.attempts) - report.passed_runs} of {len(report.attempts)} runs; the first failure:)[/]"
        self.print(
            f"[red]✗[/] [bold]{escape(scenario.title)}[/] [dim]({escape(scenario.file)}:{scenario.line})[/]{runs}"
        )
        if attempt is None or attempt.failure is None:
            return
        failure = attempt.failure
        if failure.step is not None:
            self.print(
                f"  [bold]{escape(failure.step.display())}[/] [dim](line {failure.step.line})[/]"
            )
        self.print(f"  [red]{escape(failure.message)}[/]")
        if failure.suggestion:
            self.print(f"  [yellow]did you mean:[/] {escape(failure.suggestion)}")
        if failure.has_comparison:
            for line in comparison(failure):
                self.print("  " + escape(line))
        self._run_details(attempt)

    def _run_details(self, attempt: Attempt) -> None:
        if not attempt.ran:
            return
        if attempt.error is not None:
            where = attempt.error.location()
            self.print(
                f"  [dim]run error:[/] {escape((where + ': ') if where else '')}{escape(attempt.error.message)}"
            )
        self.print(f"  [dim]output:[/] {escape(_short(attempt.output, 600))}")
        if self.verbose and attempt.events:
            self.print("  [dim]events:[/]")
            for event in attempt.events:
                fields = event.model_dump(mode="json", exclude=set(_EVENT_NOISE), exclude_none=True)
                self.print(f"    [dim]{event.seq:>3}[/] {event.type} {escape(_short(fields, 160))}")


def comparison(failure: Failure) -> list[str]:
    """``expected:``/``actual:`` lines, or a unified diff when the values are long text."""
    expected, actual = failure.expected, failure.actual
    if (
        isinstance(expected, str)
        and isinstance(actual, str)
        and ("\n" in expected or "\n" in actual or max(len(expected), len(actual)) > _DIFF_OVER)
    ):
        diff = difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), "expected", "actual", lineterm="", n=2
        )
        lines = list(diff)
        if len(lines) > 2:
            return lines
    return [f"expected: {show(expected)}", f"actual:   {show(actual)}"]
