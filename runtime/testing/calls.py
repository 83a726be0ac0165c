"""The Then steps about what the agents did: tool calls, iterations (agent turns in all) and
each agent's turns."""

from __future__ import annotations

import re
from typing import Any

from runtime.testing.steps import AGENT, TOOL, ScenarioContext, StepFailure, step
from runtime.testing.values import Described as D
from runtime.testing.values import display, parse_structured, parse_value, show, values_equal

N = r"(?P<n>-?\d+(?:\.\d+)?)"

# -- tools ------------------------------------------------------------------------------------------

CALLS = r"(?P<n>\d+) (?:times?|calls?)"


def _calls(ctx: ScenarioContext, match: re.Match[str]) -> tuple[str, list[dict[str, Any]]]:
    name = ctx.tool_name(match)
    return name, ctx.finished.tool_calls(name)


@step("then", r"the " + TOOL + r" should (?:have been|be) called", "the done tool should be called")
def _called(ctx: ScenarioContext, match: re.Match[str]) -> None:
    name, calls = _calls(ctx, match)
    if not calls:
        raise StepFailure(
            f"tool '{name}' was not called", expected=D("at least 1 call"), actual=D("0 calls")
        )


@step(
    "then",
    r"the " + TOOL + r" should (?:not|never) (?:have been|be) called",
    'the tool "delete" should not be called',
)
def _not_called(ctx: ScenarioContext, match: re.Match[str]) -> None:
    name, calls = _calls(ctx, match)
    if calls:
        raise StepFailure(
            f"tool '{name}' was called, but should not have been",
            expected=D("0 calls"),
            actual=D(f"{len(calls)} calls: {show([c.get('args') for c in calls])}"),
        )


@step(
    "then",
    r"the "
    + TOOL
    + r" should (?:have been|be) called (?P<how>exactly |at least |at most )?"
    + CALLS,
    'the tool "search" should be called exactly 2 times',
)
def _called_times(ctx: ScenarioContext, match: re.Match[str]) -> None:
    name, calls = _calls(ctx, match)
    wanted, count = int(match["n"]), len(calls)
    how = (match["how"] or "exactly ").strip().lower()
    holds = {"exactly": count == wanted, "at least": count >= wanted, "at most": count <= wanted}[
        how
    ]
    if not holds:
        raise StepFailure(
            f"tool '{name}' was called {count} time{'s' if count != 1 else ''}",
            expected=D(f"{how} {wanted}"),
            actual=count,
        )


@step(
    "then",
    r"the " + TOOL + r" should (?:have been|be) called with (?:args|arguments):? (?P<args>\{.*\})",
    'the tool "search" should be called with args {"query": "tide"}',
)
def _called_with_args(ctx: ScenarioContext, match: re.Match[str]) -> None:
    wanted = parse_structured(match["args"])
    if not isinstance(wanted, dict):
        raise StepFailure(f"expected a JSON object of arguments, got {match['args']}")
    _expect_call(ctx, match, wanted)


@step(
    "then",
    r"the " + TOOL + r" should (?:have been|be) called with (?P<pairs>[\w.-]+ ?= ?.+)",
    'the tool "search" should be called with query=tide',
)
def _called_with(ctx: ScenarioContext, match: re.Match[str]) -> None:
    wanted: dict[str, Any] = {}
    for pair in re.split(r"\s+and\s+|,\s*(?=[\w.-]+ ?=)", match["pairs"]):
        key, _, raw = pair.partition("=")
        wanted[key.strip()] = parse_value(raw)
    _expect_call(ctx, match, wanted)


def _expect_call(ctx: ScenarioContext, match: re.Match[str], wanted: dict[str, Any]) -> None:
    name, calls = _calls(ctx, match)
    if not calls:
        raise StepFailure(f"tool '{name}' was not called", expected=wanted, actual=D("no calls"))
    for call in calls:
        args = call.get("args") or {}
        if all(k in args and values_equal(args[k], v) for k, v in wanted.items()):
            return
    raise StepFailure(
        f"no call of tool '{name}' had these arguments",
        expected=wanted,
        actual=[c.get("args") for c in calls],
    )


# -- iterations and turns -----------------------------------------------------------------------------


@step(
    "then",
    r"the total iterations should be (?P<how>less than|at most|at least|greater than|more than|exactly)? ?"
    + N,
    "the total iterations should be less than 10",
)
def _iterations(ctx: ScenarioContext, match: re.Match[str]) -> None:
    _check_count(
        "total iterations",
        ctx.finished.iterations,
        (match["how"] or "exactly").lower(),
        float(match["n"]),
    )


@step(
    "then",
    r"the total iterations should be between (?P<low>\d+) and (?P<high>\d+)",
    "the total iterations should be between 1 and 5",
)
def _iterations_between(ctx: ScenarioContext, match: re.Match[str]) -> None:
    count, low, high = ctx.finished.iterations, int(match["low"]), int(match["high"])
    if not low <= count <= high:
        raise StepFailure(
            f"the total iterations are {count}",
            expected=D(f"between {low} and {high}"),
            actual=count,
        )


@step(
    "then",
    r"the (?:"
    + AGENT
    + r"|agent) should (?:take|have taken) (?P<how>exactly |at least |at most |fewer than |more than )?"
    + N
    + r" turns?",
    'the agent "worker" should take 2 turns',
)
def _turns(ctx: ScenarioContext, match: re.Match[str]) -> None:
    turns = ctx.finished.result.agent_turns
    if match["agent"] or match["agent_bare"]:
        name = ctx.agent_name(match)
        label, count = f"agent '{name}' turns", turns.get(name, 0)
    else:
        label, count = "agent turns", sum(turns.values())
    how = (
        (match["how"] or "exactly ")
        .strip()
        .lower()
        .replace("fewer than", "less than")
        .replace("more than", "greater than")
    )
    _check_count(label, count, how, float(match["n"]))


def _check_count(label: str, count: float, how: str, limit: float) -> None:
    how = how.replace("more than", "greater than")
    holds = {
        "exactly": count == limit,
        "less than": count < limit,
        "at most": count <= limit,
        "at least": count >= limit,
        "greater than": count > limit,
    }[how]
    if not holds:
        raise StepFailure(
            f"{label}: {display(count)}", expected=D(f"{how} {display(limit)}"), actual=count
        )
