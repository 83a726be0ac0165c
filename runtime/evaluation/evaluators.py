"""Scoring one run of one case: each evaluator says whether the run passed and why not.

Evaluators look at the procedure's real output (``field`` picks a key of it), the case's
``expected_output``, and what the run did (its state, tool calls, agent turns, cost, tokens).
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from runtime.evaluation.config import EvalCase, EvaluatorConfig
from runtime.run import RunResult
from runtime.testing.values import display

# Type names ``is_instance`` accepts: Python's, as Tactus writes them, and Lua's.
INSTANCE_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,), "string": (str,), "int": (int,), "integer": (int,), "float": (float, int),
    "number": (int, float), "bool": (bool,), "boolean": (bool,), "dict": (dict,),
    "object": (dict,), "list": (list,), "array": (list,), "table": (dict, list),
    "nonetype": (type(None),), "nil": (type(None),),
}  # fmt: skip
Judge = Callable[[str, Any, Any, str | None], Awaitable[tuple[bool, str]]]


@dataclass
class Score:
    passed: bool
    detail: str = ""


@dataclass
class CaseRun:
    case: EvalCase
    result: RunResult


def _pick(config: EvaluatorConfig, run: CaseRun) -> tuple[bool, Any]:
    """The value an evaluator looks at: the output, or its ``field``."""
    output = run.result.output
    name = config.options.get("field")
    if not name:
        return True, output
    if isinstance(output, dict) and name in output:
        return True, output[name]
    return False, None


def _equal(actual: Any, expected: Any) -> bool:
    if _is_number(actual) and _is_number(expected):
        return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(
            _equal(actual[k], expected[k]) for k in actual
        )
    if isinstance(actual, list) and isinstance(expected, list):
        return len(actual) == len(expected) and all(map(_equal, actual, expected))
    return bool(actual == expected)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _length(value: Any) -> int:
    return len(value) if isinstance(value, (list, dict, str)) else len(display(value))


def _limit(config: EvaluatorConfig, key: str, default: float | None) -> float | None:
    value = config.options.get(key, default)
    return (
        float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default
    )


def _count_between(label: str, count: int, config: EvaluatorConfig) -> Score:
    low = _limit(config, "min_value", 1.0)
    high = _limit(config, "max_value", None)
    if low is not None and count < low:
        return Score(False, f"{label}: {count}, fewer than {low:g}")
    if high is not None and count > high:
        return Score(False, f"{label}: {count}, more than {high:g}")
    return Score(True, f"{label}: {count}")


def _expected_field(config: EvaluatorConfig, case: EvalCase) -> Any:
    key = config.options.get("check_expected")
    if key and isinstance(case.expected_output, dict):
        return case.expected_output.get(key)
    return None


async def score(config: EvaluatorConfig, run: CaseRun, judge: Judge | None) -> Score:
    kind, options, case, result = config.type, config.options, run.case, run.result
    found, value = _pick(config, run)
    name = options.get("field")
    if kind in ("equals_expected", "exact_match"):
        expected = case.expected_output
        if expected is None:
            return Score(True, "no expected output")
        if name:
            expected = expected.get(name) if isinstance(expected, dict) else None
        elif isinstance(expected, dict) and isinstance(value, dict):
            # The expected output names the fields that matter; others the output has are free.
            value = {key: value.get(key) for key in expected}
        ok = found and _equal(value, expected)
        return Score(ok, "" if ok else f"got {display(value)}, expected {display(expected)}")
    if kind in ("contains", "contains_any"):
        text = display(value) if found else ""
        wanted = options.get("value")
        if kind == "contains_any":
            choices = wanted if isinstance(wanted, list) else _expected_field(config, case)
            choices = choices if isinstance(choices, list) else []
            ok = any(display(c).lower() in text.lower() for c in choices)
            return Score(ok, "" if ok else f"{text!r} contains none of {display(choices)}")
        sensitive = options.get("case_sensitive", True) is not False
        needle = display(wanted)
        ok = needle in text if sensitive else needle.lower() in text.lower()
        return Score(ok, "" if ok else f"{text!r} does not contain {needle!r}")
    if kind == "is_instance":
        type_name = str(options.get("value")).lower()
        if type_name in ("int", "integer") and isinstance(value, float) and value.is_integer():
            value = int(value)  # Lua has one number type: 3 and 3.0 are the same number
        allowed = INSTANCE_TYPES.get(type_name)
        ok = found and (
            isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)
            if allowed
            else type(value).__name__.lower() == type_name
        )
        return Score(ok, "" if ok else f"{display(value)} is not {type_name}")
    if kind in ("min_length", "max_length"):
        bound = _expected_field(config, case) if kind == "min_length" else None
        limit = bound if isinstance(bound, (int, float)) else _limit(config, "value", 0.0)
        length = _length(value) if found else 0
        ok = length >= (limit or 0) if kind == "min_length" else length <= (limit or 0)
        words = "at least" if kind == "min_length" else "at most"
        return Score(ok, f"length {length}" + ("" if ok else f", expected {words} {limit:g}"))
    if kind in ("max_iterations", "max_cost", "max_tokens"):
        measured = {
            "max_iterations": float(sum(result.agent_turns.values())),
            "max_cost": result.totals.cost_usd,
            "max_tokens": float(result.totals.total_tokens),
        }[kind]
        limit = _limit(config, "value", None)
        if limit is None:
            limit = _limit(
                config, kind, {"max_iterations": 10, "max_cost": 1.0, "max_tokens": 10000}[kind]
            )
        ok = limit is None or measured <= limit
        return Score(ok, f"{measured:g}" + ("" if ok else f" > {limit:g}"))
    if kind == "tool_called":
        tool = str(options.get("value") or options.get("tool"))
        return _count_between(f"{tool} calls", len(result.tool_calls.get(tool, [])), config)
    if kind == "agent_turns":
        agent = options.get("field") or options.get("agent")
        turns = result.agent_turns.get(agent, 0) if agent else sum(result.agent_turns.values())
        return _count_between(f"{agent or 'agent'} turns", turns, config)
    if kind == "state_check":
        key = str(name or options.get("variable") or "")
        present = key in result.state
        ok = present and _equal(result.state[key], options.get("value"))
        actual = display(result.state.get(key)) if present else "missing"
        return Score(
            ok, "" if ok else f"state {key} is {actual}, expected {display(options.get('value'))}"
        )
    if kind == "regex":
        pattern = str(options.get("value") or options.get("pattern") or "")
        flags = 0 if options.get("case_sensitive", True) is not False else re.IGNORECASE
        try:
            ok = found and re.search(pattern, display(value), flags) is not None
        except re.error as exc:
            return Score(False, f"invalid pattern {pattern!r}: {exc}")
        return Score(ok, "" if ok else f"{display(value)!r} does not match /{pattern}/")
    if kind == "json_schema":
        return _json_schema(options.get("json_schema") or options.get("value") or {}, found, value)
    if kind == "range":
        given = options.get("value")
        bounds: dict[str, Any] = given if isinstance(given, dict) else {}
        low = bounds.get("min", options.get("min_value"))
        high = bounds.get("max", options.get("max_value"))
        try:
            number = float(value)
        except (TypeError, ValueError):
            return Score(False, f"{display(value)} is not a number")
        ok = (low is None or number >= low) and (high is None or number <= high)
        return Score(ok, "" if ok else f"{number:g} is outside [{low}, {high}]")
    if kind == "llm_judge":
        if judge is None:
            return Score(True, "mocked: not judged")
        expected = case.expected_output if options.get("include_expected") else None
        ok, reason = await judge(str(options["rubric"]), value, expected, options.get("model"))
        return Score(ok, reason)
    return Score(False, f"unknown evaluator {kind}")


def _json_schema(schema: Any, found: bool, value: Any) -> Score:
    import jsonschema

    if not isinstance(schema, dict):
        return Score(False, "json_schema needs a schema table")
    try:
        jsonschema.validate(instance=value if found else None, schema=schema)
    except jsonschema.ValidationError as exc:
        return Score(False, exc.message)
    except jsonschema.SchemaError as exc:
        return Score(False, f"invalid schema: {exc.message}")
    return Score(True)
