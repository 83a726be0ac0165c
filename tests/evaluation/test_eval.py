"""tide eval: cases, runs, evaluators, thresholds, reports and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import anyio
import pytest

from runtime import inspect_procedure
from runtime.cli import main
from runtime.evaluation.config import EVALUATOR_TYPES, THRESHOLD_KEYS
from runtime.evaluation.runner import EvalOptions, EvalReport, run_evaluation
from runtime.source import ProcedureSource

GREETER = """
greeter = Agent { model = "openai/gpt-4o-mini", system_prompt = "Greet {input.name}." }
counter = Tool { description = "count", function(args) return 1 end }
Procedure {
  input = { name = field.string{ required = true } },
  output = { greeting = field.string{}, length = field.number{}, tags = field.array{} },
  function(input)
    counter({})
    state.greeted = input.name
    local r = greeter("hi")
    return { greeting = "Hello, " .. input.name .. "!", length = #input.name, tags = {"a", "b"} }
  end
}
Mocks { greeter = { message = "Hello!" } }
Evaluations {
  %s
}
"""


def evaluate(tmp_path: Path, body: str, **options: Any) -> EvalReport:
    path = tmp_path / "greeter.tac"
    path.write_text(GREETER % body)
    return anyio.run(run_evaluation, str(path), EvalOptions(mock=True, **options))


def test_every_evaluator_form(tmp_path: Path) -> None:
    body = """
    dataset = {
      { name = "ada", inputs = { name = "Ada" },
        expected_output = { greeting = "Hello, Ada!", length = 3, tags = {"a", "b"} } },
    },
    evaluators = {
      field.equals_expected{},
      field.equals_expected{ field = "greeting" },
      field.min_length{ field = "greeting", value = 5 },
      field.contains{ field = "greeting", value = "Ada" },
      { type = "exact_match", field = "length" },
      { type = "contains_any", field = "greeting", value = {"zzz", "hello"} },
      { type = "is_instance", field = "length", value = "int" },
      { type = "max_length", field = "greeting", value = 20 },
      { type = "max_iterations", value = 3 },
      { type = "max_cost", value = 0.5 },
      { type = "max_tokens", value = 1000 },
      { type = "tool_called", value = "counter", max_value = 1 },
      { type = "state_check", field = "greeted", value = "Ada" },
      { type = "agent_turns", field = "greeter", min_value = 1, max_value = 1 },
      { type = "regex", field = "greeting", value = "^hello", case_sensitive = false },
      { type = "json_schema", field = "tags", json_schema = { type = "array", items = { type = "string" } } },
      { type = "range", field = "length", value = { min = 1, max = 5 } },
      { type = "llm_judge", rubric = "It greets by name." },
    },
    """
    report = evaluate(tmp_path, body)
    [case] = report.cases
    failed = [(label, s.detail) for label, s in case.runs[0].scores if not s.passed]
    assert failed == []
    assert case.runs[0].passed and report.pass_rate == 1.0


def test_failing_evaluators_say_why(tmp_path: Path) -> None:
    body = """
    dataset = { { name = "bob", inputs = { name = "Bob" }, expected_output = { greeting = "Hi Bob" } } },
    evaluators = {
      field.equals_expected{ field = "greeting" },
      field.contains{ field = "greeting", value = "Ada" },
      { type = "tool_called", value = "counter", min_value = 2 },
      { type = "range", field = "length", min_value = 5 },
    },
    """
    [case] = evaluate(tmp_path, body).cases
    details = [s.detail for _, s in case.runs[0].scores]
    assert details == [
        "got Hello, Bob!, expected Hi Bob",
        "'Hello, Bob!' does not contain 'Ada'",
        "counter calls: 1, fewer than 2",
        "3 is outside [5, None]",
    ]


def test_an_expected_output_compares_only_the_fields_it_names(tmp_path: Path) -> None:
    body = """
    dataset = {
      { name = "ada", inputs = { name = "Ada" }, expected_output = { greeting = "Hello, Ada!" } },
      { name = "bob", inputs = { name = "Bob" }, expected_output = { greeting = "Hi", length = 3 } },
    },
    evaluators = { field.equals_expected{} },
    """
    ada, bob = evaluate(tmp_path, body).cases
    assert ada.runs[0].passed
    [(_, score)] = bob.runs[0].scores
    assert not score.passed
    got, expected = score.detail.split(", expected ")
    assert json.loads(got.removeprefix("got ")) == {"greeting": "Hello, Bob!", "length": 3}
    assert json.loads(expected) == {"greeting": "Hi", "length": 3}


def test_runs_dataset_file_and_thresholds(tmp_path: Path) -> None:
    (tmp_path / "cases.jsonl").write_text(
        json.dumps({"name": "ada", "inputs": {"name": "Ada"}}) + "\n"
        + json.dumps({"name": "bob", "inputs": {"name": "Bob"}}) + "\n"
    )  # fmt: skip
    body = """
    dataset_file = "cases.jsonl",
    dataset = { { name = "cy", inputs = { name = "Cy" } } },
    evaluators = { field.contains{ field = "greeting", value = "Ada" } },
    thresholds = { min_success_rate = 0.5, max_tokens_per_run = 10 },
    runs = 2,
    """
    report = evaluate(tmp_path, body)
    assert [c.case.name for c in report.cases] == ["ada", "bob", "cy"]
    assert all(len(c.runs) == 2 for c in report.cases)
    assert report.pass_rate == pytest.approx(1 / 3)
    checks = {name: met for name, met, _ in report.threshold_checks()}
    assert checks == {"min_success_rate": False, "max_tokens_per_run": True}
    assert not report.ok
    assert len(evaluate(tmp_path, body, runs=1).cases[0].runs) == 1


def test_cli_exit_codes_json_and_junit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "greeter.tac"
    body = """
    dataset = { { name = "ada", inputs = { name = "Ada" } }, { name = "bob", inputs = { name = "Bob" } } },
    evaluators = { field.contains{ field = "greeting", value = "Ada" } },
    thresholds = { min_success_rate = %s },
    """
    path.write_text(GREETER % (body % "0.5"))
    assert main(["eval", str(path), "--mock"]) == 0
    text = capsys.readouterr().out
    assert "ada" in text and "pass rate 50.0% (1/2 runs)" in text and "✓ min_success_rate" in text
    path.write_text(GREETER % (body % "0.9"))
    junit = tmp_path / "eval.xml"
    assert main(["eval", str(path), "--mock", "--json", "--junit", str(junit)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["pass_rate"] == 0.5
    assert data["cases"][1]["runs"][0]["evaluators"][0]["passed"] is False
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"


def test_a_file_without_evaluations_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plain.tac"
    path.write_text("Procedure { function() return {} end }")
    assert main(["eval", str(path), "--mock"]) == 2
    assert "declares no evaluations" in capsys.readouterr().err


def test_unusable_evaluators_are_left_out_and_said_so(tmp_path: Path) -> None:
    body = """
    dataset = { { name = "ada", inputs = { name = "Ada" } }, { inputs = {} } },
    evaluators = { { type = "bleu" }, field.contains{}, field.llm_judge{}, field.contains{ field = "greeting", value = "Ada" } },
    thresholds = { min_sucess_rate = 0.5 },
    """
    report = evaluate(tmp_path, body)
    assert report.evaluators == ["contains(greeting)"]
    assert [c.case.name for c in report.cases] == ["ada"]
    assert report.problems == [
        "dataset case 2 needs a name",
        "unknown evaluator type 'bleu' (use one of: " + ", ".join(EVALUATOR_TYPES) + ")",
        "the contains evaluator needs value = ...",
        'the llm_judge evaluator needs rubric = "..."',
        "unknown threshold 'min_sucess_rate' (use: " + ", ".join(THRESHOLD_KEYS) + ")",
    ]
    info = inspect_procedure(ProcedureSource.load(tmp_path / "greeter.tac"))
    warnings = [(message, line) for message, _, line in info.warnings]
    assert ("Evaluations: the contains evaluator needs value = ...", 15) in warnings


def test_evaluation_settings_and_evaluations_still_run(tmp_path: Path) -> None:
    from tests.helpers import run as run_text

    text = (
        GREETER % "dataset = {}, evaluators = {}"
    ) + "\nEvaluation { runs = 3, parallel = false }\n"
    result, _ = anyio.run(lambda: run_text(text, {"name": "Ada"}))
    assert result.status == "completed"


def test_evaluation_runs_set_how_often_tide_test_runs_each_scenario(tmp_path: Path) -> None:
    from tests.testing.helpers import run as run_specs

    path = tmp_path / "repeat.tac"
    path.write_text(
        """
Evaluation { runs = 3, parallel = false }
Procedure { function() return {} end }
Specification([[
Feature: repeat
  Scenario: once more
    Then the procedure should complete successfully
]])
"""
    )
    report = run_specs(path)
    assert [len(s.attempts) for s in report.scenarios] == [3] and report.runs == 3
    assert [len(s.attempts) for s in run_specs(path, runs=1).scenarios] == [1]
