"""``tide test`` results for CI tools: JUnit XML and JSON."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from runtime.testing.report import comparison
from runtime.testing.results import Attempt, ScenarioReport, TestReport


def _failure_text(attempt: Attempt) -> str:
    failure = attempt.failure
    if failure is None:
        return ""
    lines = []
    if failure.step is not None:
        lines.append(f"{failure.step.display()} (line {failure.step.line})")
    lines.append(failure.message)
    if failure.suggestion:
        lines.append(f"did you mean: {failure.suggestion}")
    if failure.has_comparison:
        lines.extend(comparison(failure))
    if attempt.error is not None:
        lines.append(f"run error: {attempt.error.message}")
    if attempt.ran:
        lines.append("output: " + json.dumps(attempt.output, ensure_ascii=False, default=str))
    return "\n".join(lines)


def junit_xml(report: TestReport) -> str:
    root = ET.Element("testsuites", name="tide test", time=f"{report.duration_s:.3f}")
    by_file: dict[str, list[ScenarioReport]] = {}
    for scenario in report.scenarios:
        by_file.setdefault(scenario.scenario.file, []).append(scenario)
    for problem in report.problems:
        by_file.setdefault(problem.file, [])
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for file, scenarios in by_file.items():
        problems = [p for p in report.problems if p.file == file]
        counts = {
            "tests": len(scenarios) + len(problems),
            "failures": sum(1 for s in scenarios if s.status == "failed"),
            "errors": len(problems),
            "skipped": sum(1 for s in scenarios if s.status == "skipped"),
        }
        for key, value in counts.items():
            totals[key] += value
        seconds = sum(s.duration_ms * max(len(s.attempts), 1) for s in scenarios) / 1000
        attributes = {"name": file, "time": f"{seconds:.3f}"}
        attributes.update({k: str(v) for k, v in counts.items()})
        suite = ET.SubElement(root, "testsuite", attributes)
        for problem in problems:
            case = ET.SubElement(suite, "testcase", classname=file, name="(load)", time="0")
            error = ET.SubElement(case, "error", message=problem.message, type="load")
            error.text = f"{problem.location()}: {problem.message}" + (
                f"\nhint: {problem.hint}" if problem.hint else ""
            )
        for scenario in scenarios:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{file}.{scenario.scenario.feature}",
                name=scenario.scenario.name,
                file=file,
                line=str(scenario.scenario.line),
                time=f"{scenario.duration_ms / 1000:.4f}",
            )
            if scenario.status == "skipped":
                ET.SubElement(case, "skipped")
            attempt = scenario.first_failure
            if attempt is not None and attempt.failure is not None:
                message = attempt.failure.message
                if len(scenario.attempts) > 1:
                    message += f" ({scenario.passed_runs}/{len(scenario.attempts)} runs passed)"
                failure = ET.SubElement(case, "failure", message=message, type="step")
                failure.text = _failure_text(attempt)
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(report: TestReport, path: str | Path) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(junit_xml(report), encoding="utf-8")


def _failure_json(attempt: Attempt | None) -> dict[str, Any] | None:
    if attempt is None or attempt.failure is None:
        return None
    failure = attempt.failure
    data: dict[str, Any] = {
        "step": failure.step.display() if failure.step else None,
        "line": failure.step.line if failure.step else None,
        "message": failure.message,
        "suggestion": failure.suggestion,
    }
    if failure.has_comparison:
        data["expected"] = failure.expected
        data["actual"] = failure.actual
    if attempt.ran:
        data["output"] = attempt.output
        data["error"] = attempt.error.model_dump(mode="json") if attempt.error else None
    return data


def report_json(report: TestReport) -> dict[str, Any]:
    return {
        "summary": report.summary(),
        "passed": report.count("passed"),
        "failed": report.count("failed"),
        "skipped": report.count("skipped"),
        "files": report.files,
        "runs": report.runs,
        "duration_s": round(report.duration_s, 4),
        "exit_code": report.exit_code,
        "errors": [
            {"file": p.file, "line": p.line, "message": p.message, "hint": p.hint}
            for p in report.problems
        ],
        "scenarios": [
            {
                "file": s.scenario.file,
                "line": s.scenario.line,
                "feature": s.scenario.feature,
                "name": s.scenario.name,
                "tags": sorted(s.scenario.tags),
                "status": s.status,
                "runs": len(s.attempts),
                "passed_runs": s.passed_runs,
                "pass_rate": round(s.pass_rate, 4),
                "flaky": s.flaky,
                "duration_ms": round(s.duration_ms, 3),
                "failure": _failure_json(s.first_failure),
            }
            for s in report.scenarios
        ],
    }
