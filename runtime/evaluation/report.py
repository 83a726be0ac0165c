"""``tide eval``'s reports: a table per case and evaluator for the terminal, JSON, JUnit XML."""

from __future__ import annotations

from typing import IO, Any
from xml.etree import ElementTree as ET

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from runtime.evaluation.runner import EvalReport
from runtime.testing.values import display


def _short(value: Any, limit: int = 80) -> str:
    text = display(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def print_report(report: EvalReport, file: IO[str]) -> None:
    console = Console(file=file, highlight=False, soft_wrap=True)
    runs = max((len(c.runs) for c in report.cases), default=1)
    mode = ", mocked" if report.mock else ""
    console.print(
        f"[bold]{escape(report.procedure)}[/]: {len(report.cases)} cases × {runs} runs{mode}"
    )
    for problem in report.problems:
        console.print(f"[yellow]left out:[/] {escape(problem)}")
    for case in report.cases:
        mark = "[green]✓[/]" if case.passed_runs == len(case.runs) else "[red]✗[/]"
        console.print(
            f"\n{mark} [bold]{escape(case.case.name)}[/] "
            f"[dim]{case.passed_runs}/{len(case.runs)} runs passed[/]"
        )
        table = Table(show_edge=False, pad_edge=False, box=None, padding=(0, 2, 0, 0))
        table.add_column("evaluator")
        for run in case.runs:
            table.add_column(f"run {run.run}" if len(case.runs) > 1 else "result")
        for index, label in enumerate(report.evaluators):
            cells = []
            for run in case.runs:
                outcome = run.scores[index][1]
                mark_cell = "[green]✓[/]" if outcome.passed else "[red]✗[/]"
                cells.append(f"{mark_cell} {escape(outcome.detail)}".rstrip())
            table.add_row(escape(label), *cells)
        table.add_row(
            "[dim]run[/]",
            *(
                f"[dim]{r.status}, {r.duration_s * 1000:.0f} ms, {r.tokens} tokens, ${r.cost_usd:.4f}[/]"
                for r in case.runs
            ),
        )
        console.print(Padding(table, (0, 0, 0, 4)))
        for run in case.runs:
            if run.error is not None:
                console.print(
                    f"    [red]run {run.run} {run.status}:[/] {escape(run.error.message)}"
                )
    total = len(report.all_runs)
    passed = sum(r.passed for r in report.all_runs)
    console.print(
        f"\npass rate {report.pass_rate:.1%} ({passed}/{total} runs) · "
        f"cost ${sum(r.cost_usd for r in report.all_runs):.4f} "
        f"(${report.mean('cost_usd'):.4f}/run) · "
        f"tokens {sum(r.tokens for r in report.all_runs)} ({report.mean('tokens'):.0f}/run) · "
        f"duration {report.duration_s:.2f} s ({report.mean('duration_s') * 1000:.0f} ms/run)"
    )
    if report.mock and any(label.startswith("llm_judge") for label in report.evaluators):
        console.print(
            "[dim]llm_judge evaluators were not judged under --mock (counted as passed)[/]"
        )
    for key, met, detail in report.threshold_checks():
        mark = "[green]✓[/]" if met else "[red]✗[/]"
        console.print(f"{mark} {key}: {detail}")
    if not report.ok:
        console.print("[red]thresholds missed[/]")


def report_json(report: EvalReport) -> dict[str, Any]:
    return {
        "procedure": report.procedure,
        "mock": report.mock,
        "ok": report.ok,
        "pass_rate": report.pass_rate,
        "duration_s": report.duration_s,
        "cost_usd": sum(r.cost_usd for r in report.all_runs),
        "tokens": sum(r.tokens for r in report.all_runs),
        "evaluators": report.evaluators,
        "problems": report.problems,
        "thresholds": [
            {"name": key, "met": met, "detail": detail}
            for key, met, detail in report.threshold_checks()
        ],
        "cases": [
            {
                "name": case.case.name,
                "inputs": case.case.inputs,
                "expected_output": case.case.expected_output,
                "passed_runs": case.passed_runs,
                "runs": [
                    {
                        "run": run.run,
                        "passed": run.passed,
                        "status": run.status,
                        "output": run.output,
                        "error": run.error.message if run.error else None,
                        "cost_usd": run.cost_usd,
                        "tokens": run.tokens,
                        "duration_s": run.duration_s,
                        "evaluators": [
                            {"name": name, "passed": s.passed, "detail": s.detail}
                            for name, s in run.scores
                        ],
                    }
                    for run in case.runs
                ],
            }
            for case in report.cases
        ],
    }


def junit_xml(report: EvalReport) -> str:
    runs = report.all_runs
    root = ET.Element("testsuites")
    suite = ET.SubElement(
        root,
        "testsuite",
        name=report.procedure,
        tests=str(len(runs)),
        failures=str(sum(not r.passed for r in runs)),
        time=f"{report.duration_s:.3f}",
    )
    for case in report.cases:
        for run in case.runs:
            name = case.case.name if len(case.runs) == 1 else f"{case.case.name} (run {run.run})"
            element = ET.SubElement(
                suite,
                "testcase",
                classname=report.procedure,
                name=name,
                time=f"{run.duration_s:.3f}",
            )
            if run.passed:
                continue
            lines = [f"{label}: {s.detail or 'failed'}" for label, s in run.scores if not s.passed]
            if run.error is not None:
                lines.insert(0, f"run {run.status}: {run.error.message}")
            failure = ET.SubElement(element, "failure", message=lines[0] if lines else "failed")
            failure.text = "\n".join(lines)
    return ET.tostring(root, encoding="unicode")
