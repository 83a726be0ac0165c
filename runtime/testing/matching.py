"""The Then steps that compare text loosely or by pattern: fuzzy matching and similarity, regular
expressions, the stop reason, a tool argument's pattern, and semantic checks by a judge.

Fuzzy matching is Tactus's: both texts lowercased, punctuation stripped and whitespace
collapsed; one containing the other scores 1.0, anything else its sequence-similarity ratio;
"any of [...]" takes the best; the default threshold is 0.8.
"""

from __future__ import annotations

import re

from runtime.testing.assertions import OUTPUT, STATE, _output, _require, _state
from runtime.testing.steps import TOOL, Q, ScenarioContext, StepFailure, step
from runtime.testing.values import Described as D
from runtime.testing.values import display, parse_structured, parse_value, show

DEFAULT_THRESHOLD = 0.8
_PUNCTUATION = re.compile(r"[^\w\s]")


def normalize(text: str) -> str:
    return " ".join(_PUNCTUATION.sub("", text.lower()).split())


def similarity(actual: str, expected: str) -> float:
    """0–1: 1.0 when one normalized text contains the other, else their similarity ratio."""
    from rapidfuzz import fuzz

    a, b = normalize(actual), normalize(expected)
    if b and (b in a or a in b):
        return 1.0
    return float(fuzz.ratio(a, b)) / 100


def best_match(actual: str, candidates: list[str]) -> tuple[float, str]:
    return max(((similarity(actual, c), c) for c in candidates), key=lambda pair: pair[0])


def _threshold(raw: str | None) -> float:
    if raw is None:
        return DEFAULT_THRESHOLD
    value = float(raw.rstrip("%"))
    return value / 100 if raw.endswith("%") or value > 1 else value


def _check_similar(label: str, actual: str, candidates: list[str], threshold: float) -> None:
    best, closest = best_match(actual, candidates)
    if best < threshold:
        raise StepFailure(
            f"{label} is {best:.2f} similar to {show(closest)}, below the threshold {threshold:g}",
            expected=closest if len(candidates) == 1 else candidates,
            actual=actual,
        )


# -- fuzzy matching ---------------------------------------------------------------------------------

THRESHOLD = r"(?: with (?:a )?threshold (?:of )?(?P<threshold>\d+(?:\.\d+)?%?))?"
ANY_OF = r"any of (?P<choices>\[.*\])"


@step(
    "then",
    OUTPUT
    + r" should fuzzy match (?:"
    + Q.format("text")
    + r"|"
    + ANY_OF
    + r"|any of (?P<listed>.+?)|(?P<bare>.+?))"
    + THRESHOLD,
    'the output should fuzzy match "Hello there" with threshold 0.9',
)
def _fuzzy(ctx: ScenarioContext, match: re.Match[str]) -> None:
    label, found, value = _output(ctx, match)
    actual = display(_require(label, found, value))
    if match["choices"] is not None:
        choices = parse_structured(match["choices"])
        if not isinstance(choices, list) or not choices:
            raise StepFailure(f"'any of' needs a list of strings, got {match['choices']}")
        candidates = [display(c) for c in choices]
    elif match["listed"] is not None:
        # any of "Hello", "Hi": comma-separated, each quoted or not
        candidates = [display(parse_value(p)) for p in match["listed"].split(",") if p.strip()]
    elif match["bare"] is not None:
        candidates = [match["bare"].strip()]
    else:
        candidates = [match["text"]]
    _check_similar(label, actual, candidates, _threshold(match["threshold"]))


SIMILAR = (
    r" should be similar to " + Q.format("text") + r"(?: with (?P<pct>\d+(?:\.\d+)?)% similarity)?"
)


def _similar(ctx: ScenarioContext, match: re.Match[str]) -> None:
    label, found, value = (
        _state(ctx, match) if match.re.pattern.startswith("the state") else _output(ctx, match)
    )
    actual = display(_require(label, found, value))
    threshold = float(match["pct"]) / 100 if match["pct"] else DEFAULT_THRESHOLD
    _check_similar(label, actual, [match["text"]], threshold)


step("then", OUTPUT + SIMILAR, 'the output summary should be similar to "A short story"')(_similar)
step("then", STATE + SIMILAR, 'the state summary should be similar to "done" with 90% similarity')(
    _similar
)


# -- the stop reason ----------------------------------------------------------------------------------


def stop_reason(ctx: ScenarioContext) -> str:
    """Why the run stopped: the reason given to ``Stop.request``, else the error of a failed
    run, else nothing."""
    outcome = ctx.finished
    reason = outcome.result.stop_reason
    if isinstance(reason, str):
        return reason
    error = outcome.result.error
    return error.message if error is not None and outcome.result.status != "completed" else ""


@step(
    "then",
    r"the stop reason should (?P<negate>not )?(?P<how>be|contain) " + r"(?P<value>.+)",
    'the stop reason should contain "budget"',
)
def _stop_reason(ctx: ScenarioContext, match: re.Match[str]) -> None:
    if match["how"].lower() == "be" and match["value"].startswith("similar to "):
        raise StepFailure('use: the stop reason should contain "…"')
    wanted = display(parse_value(match["value"]))
    actual = stop_reason(ctx)
    holds = actual == wanted if match["how"].lower() == "be" else wanted in actual
    if bool(match["negate"]) == holds:
        words = ("not " if match["negate"] else "") + (
            "equal to" if match["how"].lower() == "be" else "containing"
        )
        raise StepFailure(
            f"the stop reason is {show(actual)}",
            expected=D(f"{words} {show(wanted)}"),
            actual=actual,
        )


@step(
    "then",
    r"the agent'?s? context should include (?:" + Q.format("text") + r"|(?P<bare>.+))",
    "the agent's context should include \"the customer's name\"",
)
def _context_includes(ctx: ScenarioContext, match: re.Match[str]) -> None:
    wanted = match["text"] if match["text"] is not None else match["bare"].strip()
    texts = agent_context(ctx)
    if not any(wanted in text for text in texts):
        raise StepFailure(
            f"no agent was sent {show(wanted)}",
            expected=D(f"a message or system prompt containing {show(wanted)}"),
            actual=texts,
        )


def agent_context(ctx: ScenarioContext) -> list[str]:
    """What the agents were given: their system prompts, then every message of their turns."""
    from runtime.templates import render

    outcome = ctx.finished
    host = outcome.host
    if host is None:
        return []
    texts: list[str] = []
    inputs, state = ctx.setup.inputs, outcome.result.state
    for agent in host.declarations.agents.values():
        prompt = agent.config.system_prompt
        texts.append(render(prompt, inputs=inputs, state=state) if prompt else "")
        history = host.effects.agent_method(agent, "history")
        for message in history if isinstance(history, list) else []:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                texts.append(content)
    return [t for t in texts if t]


# -- patterns -------------------------------------------------------------------------------------------


def _regex(raw: str) -> re.Pattern[str]:
    try:
        return re.compile(raw)
    except re.error as exc:
        raise StepFailure(f"invalid pattern {raw!r}: {exc}") from None


@step(
    "then",
    r"the stop reason should match pattern " + Q.format("regex"),
    'the stop reason should match pattern "budget|limit"',
)
def _stop_pattern(ctx: ScenarioContext, match: re.Match[str]) -> None:
    actual = stop_reason(ctx)
    if not _regex(match["regex"]).search(actual):
        raise StepFailure(
            f"the stop reason does not match pattern {match['regex']!r}",
            expected=D(f"/{match['regex']}/"),
            actual=actual,
        )


@step(
    "then",
    r"the "
    + TOOL
    + r" should (?:have been|be) called with (?P<param>[\w.-]+) matching pattern "
    + Q.format("regex"),
    'the search tool should be called with query matching pattern "^tide"',
)
def _tool_arg_pattern(ctx: ScenarioContext, match: re.Match[str]) -> None:
    name = ctx.tool_name(match)
    calls = ctx.finished.tool_calls(name)
    if not calls:
        raise StepFailure(f"tool '{name}' was not called", actual=D("no calls"))
    pattern = _regex(match["regex"])
    param = match["param"]
    values = [(c.get("args") or {}).get(param) for c in calls]
    if not any(v is not None and pattern.search(display(v)) for v in values):
        raise StepFailure(
            f"no call of tool '{name}' had {param} matching {match['regex']!r}",
            expected=D(f"{param} matching /{match['regex']}/"),
            actual=[v for v in values if v is not None] or D(f"no call had {param}"),
        )


# -- models and judges -----------------------------------------------------------------------------------


async def _model_predicts(ctx: ScenarioContext, match: re.Match[str]) -> None:
    if ctx.outcome is None:
        ctx.outcome = await ctx.run_procedure()


step("when", r"the (?P<model>[\w.-]+) model predicts", "the sentiment model predicts", "run")(
    _model_predicts
)


@step(
    "then",
    OUTPUT + r" should semantically satisfy (?:" + Q.format("text") + r"|(?P<bare>.+))",
    'the output should semantically satisfy "is a polite greeting"',
)
async def _semantic(ctx: ScenarioContext, match: re.Match[str]) -> None:
    label, found, value = _output(ctx, match)
    actual = _require(label, found, value)
    assertion = match["text"] if match["text"] is not None else match["bare"]
    judged = None if ctx.judge is None else await ctx.judge(assertion, actual)
    if judged is None:
        ctx.notes.append(f"semantic check not judged under mocks: {assertion}")
        return
    ok, reason = judged
    if not ok:
        raise StepFailure(f"{label} does not satisfy {show(assertion)}: {reason}", actual=actual)
