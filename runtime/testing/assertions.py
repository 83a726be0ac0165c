"""The Then steps about results: the run's status, its output and its state (fuzzy matching
included). Steps about tool calls and turns are in ``calls``."""

from __future__ import annotations

import re
from typing import Any

from runtime.testing.steps import Q, ScenarioContext, StepFailure, step
from runtime.testing.values import Described as D
from runtime.testing.values import (
    as_number,
    contains,
    display,
    is_complete,
    lookup,
    parse_value,
    show,
    values_equal,
)

# "the output", "the output NAME" or "the state KEY", with the subject's name in a group.
OUTPUT = r"the output(?: (?P<name>[\w.-]+))?"
STATE = r"the state (?P<name>[\w.-]+)"
N = r"(?P<n>-?\d+(?:\.\d+)?)"


def _output(ctx: ScenarioContext, match: re.Match[str]) -> tuple[str, bool, Any]:
    output = ctx.finished.result.output
    name = match["name"]
    if not name:
        return "the output", output is not None, output
    found, value = lookup(output, name)
    return f"output '{name}'", found, value


def _state(ctx: ScenarioContext, match: re.Match[str]) -> tuple[str, bool, Any]:
    found, value = lookup(ctx.finished.result.state, match["name"])
    return f"state '{match['name']}'", found, value


def _subject(ctx: ScenarioContext, match: re.Match[str]) -> tuple[str, bool, Any]:
    return _state(ctx, match) if match.re.pattern.startswith("the state") else _output(ctx, match)


def _require(label: str, found: bool, value: Any) -> Any:
    if not found:
        raise StepFailure(f"{label} does not exist")
    return value


# -- completion ------------------------------------------------------------------------------------


@step(
    "then",
    r"the procedure should (?:complete successfully|succeed|complete|pass)",
    "the procedure should complete successfully",
)
def _succeeds(ctx: ScenarioContext, match: re.Match[str]) -> None:
    result = ctx.finished.result
    if result.status != "completed":
        detail = f": {result.error.message}" if result.error else ""
        raise StepFailure(
            f"the procedure {result.status}{detail}",
            expected=D("completed"),
            actual=D(result.status),
        )


@step(
    "then",
    r"the procedure should fail(?: with " + Q.format("text") + r")?",
    'the procedure should fail with "no answer"',
)
def _fails(ctx: ScenarioContext, match: re.Match[str]) -> None:
    result = ctx.finished.result
    if result.status == "completed":
        raise StepFailure(
            "the procedure completed, but it should have failed",
            expected=D("failed"),
            actual=D("completed"),
        )
    wanted = match["text"]
    message = result.error.message if result.error else ""
    if wanted is not None and wanted.lower() not in message.lower():
        raise StepFailure(
            "the procedure failed with another error", expected=wanted, actual=message
        )


# -- output and state ------------------------------------------------------------------------------

SUBJECTS = (OUTPUT, STATE)


def _both(pattern: str, output_example: str, state_example: str) -> Any:
    """Register a check for both the output and the state."""

    def register(action: Any) -> Any:
        step("then", OUTPUT + pattern, output_example)(action)
        step("then", STATE + pattern, state_example)(action)
        return action

    return register


@_both(r" should exist", "the output summary should exist", "the state count should exist")
def _exists(ctx: ScenarioContext, match: re.Match[str]) -> None:
    label, found, value = _subject(ctx, match)
    if not found or value is None:
        raise StepFailure(f"{label} does not exist")


@_both(
    r" should not exist", "the output error should not exist", "the state error should not exist"
)
def _not_exists(ctx: ScenarioContext, match: re.Match[str]) -> None:
    label, found, value = _subject(ctx, match)
    if found and value is not None:
        raise StepFailure(f"{label} exists, but should not", actual=value)


@_both(
    r" should be complete",
    "the output summary should be complete",
    "the state summary should be complete",
)
def _complete(ctx: ScenarioContext, match: re.Match[str]) -> None:
    label, found, value = _subject(ctx, match)
    if not found or not is_complete(value):
        raise StepFailure(f"{label} is missing or empty", actual=value if found else None)


@_both(
    r" should match pattern " + Q.format("regex"),
    'the output greeting should match pattern "^Hello"',
    'the state status should match pattern "ok|done"',
)
def _matches(ctx: ScenarioContext, match: re.Match[str]) -> None:
    label, found, value = _subject(ctx, match)
    text = display(_require(label, found, value))
    try:
        pattern = re.compile(match["regex"])
    except re.error as exc:
        raise StepFailure(f"invalid pattern {match['regex']!r}: {exc}") from None
    if not pattern.search(text):
        raise StepFailure(
            f"{label} does not match pattern {match['regex']!r}",
            expected=D(f"/{match['regex']}/"),
            actual=value,
        )


def _compare(op: str) -> Any:
    def check(ctx: ScenarioContext, match: re.Match[str]) -> None:
        label, found, value = _subject(ctx, match)
        actual = as_number(_require(label, found, value))
        limit = float(match["n"])
        if actual is None:
            raise StepFailure(f"{label} is not a number", actual=value)
        holds = {
            "greater": actual > limit,
            "less": actual < limit,
            "least": actual >= limit,
            "most": actual <= limit,
        }[op]
        words = {
            "greater": "greater than",
            "less": "less than",
            "least": "at least",
            "most": "at most",
        }[op]
        if not holds:
            raise StepFailure(
                f"{label} is not {words} {display(limit)}",
                expected=D(f"{words} {display(limit)}"),
                actual=value,
            )

    return check


for _op, _words in (
    ("greater", "be greater than"),
    ("less", "be less than"),
    ("least", "be at least"),
    ("most", "be at most"),
):
    _both(
        rf" should {_words} " + N,
        f"the output score should {_words} 3",
        f"the state count should {_words} 3",
    )(_compare(_op))


@_both(
    r" should (?P<negate>not )?contain(?: (?P<value>.+)|:)",
    'the output summary should contain "Tide"',
    'the state log should contain "started"',
)
def _contains(ctx: ScenarioContext, match: re.Match[str]) -> None:
    label, found, value = _subject(ctx, match)
    container = _require(label, found, value)
    raw = match["value"]
    item = parse_value(raw) if raw is not None else ctx.text_argument(match, "value")
    if isinstance(container, str) and not isinstance(item, str):
        item = display(item)
    holds = contains(container, item)
    if match["negate"] and holds:
        raise StepFailure(
            f"{label} contains {show(item)}, but should not",
            expected=D(f"not containing {show(item)}"),
            actual=container,
        )
    if not match["negate"] and not holds:
        raise StepFailure(
            f"{label} does not contain {show(item)}",
            expected=D(f"containing {show(item)}"),
            actual=container,
        )


@_both(
    r" should (?P<negate>not )?(?:be|equal)(?: (?P<value>(?!similar to ).+)|:)",
    'the output status should be "done"',
    "the state count should be 3",
)
def _equals(ctx: ScenarioContext, match: re.Match[str]) -> None:
    label, found, value = _subject(ctx, match)
    if match["value"] is not None:
        expected = parse_value(match["value"])
    else:
        # A doc string is text as written, unless the value it is compared with is not text.
        text = ctx.text_argument(match, "value")
        expected = text if isinstance(value, str) else parse_value(text)
    actual = value if found else None
    equal = values_equal(actual, expected)
    if match["negate"] and equal:
        raise StepFailure(
            f"{label} is {show(actual)}, but should not be",
            expected=D(f"not {show(expected)}"),
            actual=actual,
        )
    if not match["negate"] and not equal:
        if not found and expected is not None:
            raise StepFailure(f"{label} does not exist", expected=expected, actual=None)
        raise StepFailure(f"{label} is not as expected", expected=expected, actual=actual)


@step("then", r"the state should contain (?P<name>[\w.-]+)", "the state should contain results")
def _state_has(ctx: ScenarioContext, match: re.Match[str]) -> None:
    found, _ = lookup(ctx.finished.result.state, match["name"])
    if not found:
        raise StepFailure(
            f"state '{match['name']}' does not exist", actual=ctx.finished.result.state
        )
