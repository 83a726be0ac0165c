"""What ``Evaluation {}`` and ``Evaluations {}`` declare.

``Evaluation { runs = N, parallel = true }`` sets how often ``tide test`` runs each scenario.
``Evaluations { dataset | dataset_file, evaluators, thresholds, runs, parallel }`` (or
``Evaluation`` with any of those keys) is what ``tide eval`` runs.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import DeclarationError, ProcedureLoadError

EVALUATOR_TYPES = (
    "equals_expected", "exact_match", "contains", "contains_any", "is_instance", "min_length",
    "max_length", "max_iterations", "max_cost", "max_tokens", "tool_called", "state_check",
    "agent_turns", "regex", "json_schema", "range", "llm_judge",
)  # fmt: skip
EVALUATION_KEYS = ("dataset", "dataset_file", "evaluators", "thresholds")
THRESHOLD_KEYS = ("min_success_rate", "max_cost_per_run", "max_duration", "max_tokens_per_run")
MAX_DATASET_BYTES = 16 * 1024 * 1024


@dataclass
class EvaluationSettings:
    runs: int = 1
    parallel: bool = True


@dataclass
class EvalCase:
    name: str
    inputs: dict[str, Any]
    expected_output: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvaluatorConfig:
    type: str
    options: dict[str, Any]

    @property
    def label(self) -> str:
        """How reports name it: its type, with the field or tool it looks at."""
        target = self.options.get("field")
        if self.type == "tool_called":
            target = self.options.get("value") or self.options.get("tool")
        return f"{self.type}({target})" if target else self.type


@dataclass
class EvaluationsConfig:
    cases: list[EvalCase]
    evaluators: list[EvaluatorConfig]
    thresholds: dict[str, float]
    runs: int = 1
    parallel: bool = True
    dataset_file: str | None = None
    file: str | None = None
    line: int | None = None
    # What was left out: evaluators, cases or thresholds that could not be used.
    problems: list[str] = field(default_factory=list)


def parse_evaluation(
    kind: str, raw: Any, file: str | None, line: int | None
) -> tuple[EvaluationSettings | None, EvaluationsConfig | None, list[str]]:
    """The settings or the evaluations, and the problems found in them.

    A problem never stops the procedure from loading, running or being tested (Tactus skips
    what it cannot use, too): ``tide validate`` shows it as a warning and ``tide eval`` leaves
    out the evaluator, case or threshold concerned, saying so."""
    problems: list[str] = []
    config = raw if isinstance(raw, dict) else {}
    if raw not in (None, []) and not isinstance(raw, dict):
        problems.append(f"{kind.capitalize()} expects a table")
    runs = _setting(config, "runs", 1, problems)
    parallel = config.get("parallel", True)
    if not isinstance(parallel, bool):
        problems.append("parallel must be true or false")
        parallel = True
    if kind == "evaluation" and not any(k in config for k in EVALUATION_KEYS):
        return EvaluationSettings(runs, parallel), None, problems
    cases = []
    for index, item in enumerate(_listed(config.get("dataset"), "dataset", problems), start=1):
        try:
            cases.append(parse_case(item, f"dataset case {index}"))
        except DeclarationError as exc:
            problems.append(exc.message)
    dataset_file = config.get("dataset_file")
    if dataset_file is not None and not isinstance(dataset_file, str):
        problems.append('dataset_file must be a path, e.g. "cases.jsonl"')
        dataset_file = None
    evaluators = []
    for item in _listed(config.get("evaluators"), "evaluators", problems):
        try:
            evaluators.append(parse_evaluator(item))
        except DeclarationError as exc:
            problems.append(exc.message + (f" ({exc.hint})" if exc.hint else ""))
    thresholds: dict[str, float] = {}
    raw_thresholds = config.get("thresholds") or {}
    if not isinstance(raw_thresholds, dict):
        problems.append("thresholds must be a table")
        raw_thresholds = {}
    for key, value in raw_thresholds.items():
        if key not in THRESHOLD_KEYS:
            problems.append(f"unknown threshold '{key}' (use: {', '.join(THRESHOLD_KEYS)})")
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"threshold {key} must be a number")
        else:
            thresholds[str(key)] = float(value)
    evaluations = EvaluationsConfig(
        cases, evaluators, thresholds, runs, parallel, dataset_file, file, line, problems
    )
    return None, evaluations, problems


def _listed(value: Any, what: str, problems: list[str]) -> list[Any]:
    if value is None or value == {}:
        return []
    if isinstance(value, dict):
        return list(value.values())
    if not isinstance(value, list):
        problems.append(f"{what} must be a list")
        return []
    return value


def _setting(config: dict[str, Any], key: str, default: int, problems: list[str]) -> int:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1:
        problems.append(f"{key} must be a number of at least 1")
        return default
    return int(value)


def parse_case(raw: Any, where: str) -> EvalCase:
    if not isinstance(raw, dict):
        raise DeclarationError(f"{where} must be a table with name and inputs")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise DeclarationError(f"{where} needs a name")
    inputs = raw.get("inputs", {})
    if inputs == []:
        inputs = {}
    if not isinstance(inputs, dict):
        raise DeclarationError(f"case '{name}': inputs must be a table of name = value")
    metadata = raw.get("metadata") or {}
    return EvalCase(
        name, inputs, raw.get("expected_output"), metadata if isinstance(metadata, dict) else {}
    )


def parse_evaluator(raw: Any) -> EvaluatorConfig:
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise DeclarationError(
            "an evaluator is a table with a type",
            hint='e.g. field.contains{field = "answer", value = "yes"} or {type = "regex", ...}',
        )
    kind = raw["type"].lower()
    if kind not in EVALUATOR_TYPES:
        raise DeclarationError(
            f"unknown evaluator type '{raw['type']}'",
            hint="use one of: " + ", ".join(EVALUATOR_TYPES),
        )
    options = {k: v for k, v in raw.items() if k != "type"}
    alternatives = {"regex": "pattern", "tool_called": "tool"}
    needs_value = kind in ("contains", "is_instance", "regex", "tool_called")
    if needs_value and options.get("value") is None and not options.get(alternatives.get(kind, "")):
        raise DeclarationError(f"the {kind} evaluator needs value = ...")
    if kind == "llm_judge" and not isinstance(options.get("rubric"), str):
        raise DeclarationError('the llm_judge evaluator needs rubric = "..."')
    return EvaluatorConfig(kind, options)


def load_dataset_file(path: str, root: Path | None) -> list[EvalCase]:
    """Cases from a .jsonl, .json or .csv file inside the procedure's folder."""
    if root is None:
        raise ProcedureLoadError(f"cannot read {path}: this procedure has no folder")
    base = root.resolve()
    file = (base / path).resolve()
    if not file.is_relative_to(base):
        raise ProcedureLoadError(f"dataset_file {path} is outside the procedure's folder")
    if not file.is_file():
        raise ProcedureLoadError(f"dataset_file {path} not found", hint=f"looked at {file}")
    if file.stat().st_size > MAX_DATASET_BYTES:
        raise ProcedureLoadError(f"dataset_file {path} is larger than 16 MiB")
    text = file.read_text(encoding="utf-8", errors="replace")
    try:
        if file.suffix == ".jsonl":
            return [
                parse_case(json.loads(line), f"{path} line {number}")
                for number, line in enumerate(text.splitlines(), start=1)
                if line.strip()
            ]
        if file.suffix == ".json":
            data = json.loads(text)
            if not isinstance(data, list):
                raise ProcedureLoadError(f"{path} must hold a JSON array of cases")
            return [parse_case(item, f"{path} case {i}") for i, item in enumerate(data, start=1)]
        if file.suffix == ".csv":
            return _csv_cases(text, path)
    except json.JSONDecodeError as exc:
        raise ProcedureLoadError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except DeclarationError as exc:
        raise ProcedureLoadError(exc.message) from None
    raise ProcedureLoadError(f"dataset_file {path}: use a .jsonl, .json or .csv file")


def _csv_cases(text: str, path: str) -> list[EvalCase]:
    reader = csv.DictReader(text.splitlines())
    if (
        not reader.fieldnames
        or "name" not in reader.fieldnames
        or "inputs" not in reader.fieldnames
    ):
        raise ProcedureLoadError(f"{path} needs name and inputs columns")
    cases = []
    for number, row in enumerate(reader, start=2):
        item: dict[str, Any] = {"name": row["name"], "inputs": json.loads(row["inputs"] or "{}")}
        if row.get("expected_output"):
            item["expected_output"] = json.loads(row["expected_output"])
        if row.get("metadata"):
            item["metadata"] = json.loads(row["metadata"])
        cases.append(parse_case(item, f"{path} row {number}"))
    return cases
