"""The step library's machinery: step definitions, matching, suggestions, and what a scenario
sets up before its run (Given) and triggers (When). Checks (Then) are in ``assertions``.

Steps match case-insensitively and in full. A step is tried against definitions of its own kind
(Given/When/Then; And/But continue the previous kind) first, then against all others, because
Tactus specifications are not always strict about keywords.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from runtime.testing.gherkin import SpecStep, StepKind
from runtime.testing.values import parse_json_argument, parse_list_or_value, parse_value, show

if TYPE_CHECKING:
    from runtime.events import Event
    from runtime.host import Host
    from runtime.inspect import ProcedureInfo
    from runtime.run import RunResult

# setup: before the run; run: runs the procedure; check: after it (running it first if need be);
# noop: anywhere.
Phase = Literal["setup", "run", "check", "noop"]
StepAction = Callable[["ScenarioContext", re.Match[str]], Awaitable[None] | None]

# Building blocks of step patterns.
Q = r'"(?P<{0}>[^"]*)"'
AGENT = r'(?:agent "(?P<agent>[^"]+)"|(?P<agent_bare>[\w.-]+) agent)'
TOOL = r'(?:tool "(?P<tool>[^"]+)"|(?P<tool_bare>[\w.-]+) tool)'
_MISSING: Any = object()


class StepFailure(Exception):
    """A step that did not hold; ``expected``/``actual`` are shown side by side (or diffed)."""

    def __init__(self, message: str, *, expected: Any = _MISSING, actual: Any = _MISSING) -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.actual = actual

    @property
    def has_comparison(self) -> bool:
        return self.expected is not _MISSING and self.actual is not _MISSING


@dataclass(frozen=True)
class StepDef:
    kind: StepKind
    phase: Phase
    pattern: re.Pattern[str]
    example: str
    action: StepAction


@dataclass
class ScenarioSetup:
    """What the Given steps arranged: inputs, the first message, and mocks."""

    inputs: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    agent_turns: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tool_mocks: dict[str, dict[str, Any]] = field(default_factory=dict)
    human: dict[str, Any] = field(default_factory=dict)

    def mocks(self) -> dict[str, Any]:
        merged: dict[str, Any] = dict(self.tool_mocks)
        merged.update({name: list(turns) for name, turns in self.agent_turns.items()})
        return merged

    def last_turn(self, agent: str) -> dict[str, Any]:
        turns = self.agent_turns.setdefault(agent, [])
        if not turns:
            turns.append({})
        return turns[-1]


@dataclass
class Outcome:
    """A finished run, as the Then steps see it."""

    result: RunResult
    events: list[Event]
    host: Host | None

    def tool_calls(self, name: str) -> list[dict[str, Any]]:
        """Every call of the tool, including calls that failed."""
        calls = list(self.result.tool_calls.get(name, []))
        for event in self.events:
            if event.type == "tool_call" and event.tool == name and event.stage == "failed":
                calls.append({"args": event.args, "error": event.error})
        return calls

    @property
    def iterations(self) -> int:
        return sum(self.result.agent_turns.values())


@dataclass
class ScenarioContext:
    info: ProcedureInfo
    setup: ScenarioSetup
    run_procedure: Callable[[], Awaitable[Outcome]]
    step: SpecStep | None = None
    outcome: Outcome | None = None
    limiter: Any = None
    # Asks a model whether a value satisfies an assertion: (ok, reason), or None under mocks.
    judge: Callable[[str, Any], Awaitable[tuple[bool, str] | None]] | None = None
    # What the report should say about a passing scenario (checks that were not judged).
    notes: list[str] = field(default_factory=list)

    @property
    def finished(self) -> Outcome:
        assert self.outcome is not None, "the procedure has not run"
        return self.outcome

    def agent_name(self, match: re.Match[str]) -> str:
        return self._declared(
            match["agent"] or match["agent_bare"], [a.name for a in self.info.agents], "agent"
        )

    def tool_name(self, match: re.Match[str]) -> str:
        written = match["tool"] or match["tool_bare"]
        return self._declared(written, [*self.info.tools, "done"], "tool")

    def _declared(self, written: str, known: list[str], what: str) -> str:
        if written in known:
            return written
        folded = {name.lower(): name for name in known}
        if written.lower() in folded:
            return folded[written.lower()]
        # A script's inspection stops at its first effect, so it may not know every name; and
        # a name the source spells out (`Classify { name = "triage" }` inside the procedure's
        # function, whose model answers as an agent) is declared when the procedure runs.
        text = self.info.source.text
        for spec, _ in self.info.specifications:
            text = text.replace(spec, "")
        spelled = f'"{written}"' in text or f"'{written}'" in text
        if (
            self.info.mode == "procedure"
            and self.step is not None
            and self.step.kind == "given"
            and not spelled
        ):
            listed = ", ".join(known) or "none"
            raise StepFailure(
                f"the procedure declares no {what} named '{written}' ({what}s: {listed})"
            )
        return written

    def text_argument(self, match: re.Match[str], group: str = "text") -> str:
        """A quoted string from the step, or its doc string."""
        value = match.groupdict().get(group)
        if value is not None:
            return value
        if self.step is not None and self.step.doc_string is not None:
            return self.step.doc_string
        raise StepFailure("this step needs a quoted string or a doc string")


REGISTRY: list[StepDef] = []


def step(
    kind: StepKind, pattern: str, example: str, phase: Phase = "check"
) -> Callable[[StepAction], StepAction]:
    def register(action: StepAction) -> StepAction:
        compiled = re.compile(pattern, re.IGNORECASE | re.DOTALL)
        if not compiled.fullmatch(example):
            raise AssertionError(f"example {example!r} does not match its own pattern {pattern!r}")
        REGISTRY.append(StepDef(kind, phase, compiled, example, action))
        return action

    return register


def find_step(spec: SpecStep) -> tuple[StepDef, re.Match[str]] | None:
    text = spec.text.strip()
    ordered = sorted(REGISTRY, key=lambda d: d.kind != spec.kind)
    for definition in ordered:
        match = definition.pattern.fullmatch(text)
        if match:
            return definition, match
    return None


_SHAPE_QUOTED = re.compile(r'"[^"]*"|\'[^\']*\'')
_SHAPE_NUMBER = re.compile(r"\b\d+(\.\d+)?\b")


def _shape(text: str) -> str:
    return _SHAPE_NUMBER.sub("N", _SHAPE_QUOTED.sub('"…"', text.lower())).strip()


def suggest(text: str, custom: list[str] | None = None) -> str | None:
    """The known phrasing closest to an undefined step."""
    examples = [d.example for d in REGISTRY] + list(custom or [])
    shapes = {_shape(e): e for e in reversed(examples)}
    close = difflib.get_close_matches(_shape(text), list(shapes), n=1, cutoff=0.5)
    return shapes[close[0]] if close else None


def phrasebook() -> list[tuple[str, str]]:
    """(kind, example) for every built-in step, for help and the IDE."""
    return [(d.kind, d.example) for d in REGISTRY]


# -- Given ---------------------------------------------------------------------------------------


@step(
    "given",
    r"the procedure (?:has started|is started|starts)",
    "the procedure has started",
    "noop",
)
def _started(ctx: ScenarioContext, match: re.Match[str]) -> None:
    return None


@step(
    "given",
    r"the (?:message|user message) is(?: " + Q.format("text") + r"| (?P<bare>.+)|:)",
    'the message is "Hello"',
    "setup",
)
def _message(ctx: ScenarioContext, match: re.Match[str]) -> None:
    text = match["bare"].strip() if match["bare"] is not None else ctx.text_argument(match)
    ctx.setup.message = text
    if "message" in ctx.info.inputs:
        ctx.setup.inputs["message"] = text


@step(
    "given",
    r"the input (?P<name>[\w.-]+) is(?: (?P<value>.+)|:)",
    'the input topic is "robots"',
    "setup",
)
def _input(ctx: ScenarioContext, match: re.Match[str]) -> None:
    if match["value"] is None:
        ctx.setup.inputs[match["name"]] = ctx.text_argument(match, "value")
    else:
        ctx.setup.inputs[match["name"]] = parse_list_or_value(match["value"])


@step(
    "given",
    r"the (?P<name>[\w.-]+) (?:parameter|input) is (?P<value>.+)",
    "the topic parameter is robots",
    "setup",
)
def _parameter(ctx: ScenarioContext, match: re.Match[str]) -> None:
    ctx.setup.inputs[match["name"]] = parse_value(match["value"])


@step("given", r"the inputs are:?", "the inputs are:", "setup")
def _inputs_table(ctx: ScenarioContext, match: re.Match[str]) -> None:
    rows = list(ctx.step.table or ()) if ctx.step else []
    if rows and [c.lower() for c in rows[0]] == ["name", "value"]:
        rows = rows[1:]
    if not rows or any(len(r) != 2 for r in rows):
        raise StepFailure("'the inputs are:' needs a table of | name | value | rows")
    for name, value in rows:
        ctx.setup.inputs[name] = parse_value(value)


@step(
    "given",
    r"the "
    + AGENT
    + r" (?:responds|replies|answers) with(?: "
    + Q.format("text")
    + r"| (?P<bare>.+)|:)",
    'the agent "writer" responds with "A draft"',
    "setup",
)
def _responds(ctx: ScenarioContext, match: re.Match[str]) -> None:
    text = match["bare"].strip() if match["bare"] is not None else ctx.text_argument(match)
    ctx.setup.agent_turns.setdefault(ctx.agent_name(match), []).append({"message": text})


@step(
    "given",
    r"the "
    + AGENT
    + r" calls (?:the )?"
    + TOOL
    + r"(?: with(?: args| arguments)?:?(?: (?P<args>.+))?)?",
    'the agent "worker" calls tool "search" with args {"query": "tide"}',
    "setup",
)
def _calls(ctx: ScenarioContext, match: re.Match[str]) -> None:
    raw = match["args"]
    if raw is None and ctx.step is not None and ctx.step.doc_string is not None:
        raw = ctx.step.doc_string
    try:
        args = parse_json_argument(raw) if raw else {}
    except ValueError as exc:
        raise StepFailure(f"the tool arguments are {exc}") from None
    if not isinstance(args, dict):
        raise StepFailure(f"tool arguments must be a JSON object, got {show(args)}")
    turn = ctx.setup.last_turn(ctx.agent_name(match))
    turn.setdefault("tool_calls", []).append({"tool": ctx.tool_name(match), "args": args})


@step(
    "given",
    r"the " + AGENT + r" returns data(?: (?P<data>.+)|:)",
    'the agent "classifier" returns data {"label": "spam"}',
    "setup",
)
def _data(ctx: ScenarioContext, match: re.Match[str]) -> None:
    raw = match["data"] if match["data"] is not None else ctx.text_argument(match, "data")
    try:
        data = parse_json_argument(raw)
    except ValueError as exc:
        raise StepFailure(f"the data is {exc}") from None
    agent = ctx.agent_name(match)
    turn = ctx.setup.last_turn(agent)
    if "data" in turn:
        ctx.setup.agent_turns[agent].append({"data": data})
    else:
        turn["data"] = data


@step(
    "given",
    r"the " + TOOL + r" returns(?: (?P<value>.+)|:)",
    'the tool "search" returns {"hits": 3}',
    "setup",
)
def _tool_returns(ctx: ScenarioContext, match: re.Match[str]) -> None:
    raw = match["value"] if match["value"] is not None else ctx.text_argument(match, "value")
    value = parse_value(raw)
    mock = ctx.setup.tool_mocks.setdefault(ctx.tool_name(match), {})
    # Several "returns" are successive calls' results, the last repeating.
    if "temporal" in mock:
        mock["temporal"].append(value)
    elif "returns" in mock:
        mock["temporal"] = [mock.pop("returns"), value]
    else:
        mock["returns"] = value


@step(
    "given",
    r"the " + TOOL + r" fails(?: with " + Q.format("text") + r")?",
    'the tool "search" fails with "rate limited"',
    "setup",
)
def _tool_fails(ctx: ScenarioContext, match: re.Match[str]) -> None:
    message = match["text"] if match["text"] is not None else "the tool failed"
    ctx.setup.tool_mocks[ctx.tool_name(match)] = {"error": message}


@step(
    "given",
    r"Human\.(?P<op>approve|input|review|select|escalate|multiple|inputs) "
    r"(?:will return|returns) (?P<value>.+)",
    "Human.approve will return false",
    "setup",
)
def _human(ctx: ScenarioContext, match: re.Match[str]) -> None:
    ctx.setup.human[match["op"].lower()] = parse_value(match["value"])


@step("given", r"the (?:human|user) (?P<answer>approves|rejects)", "the human rejects", "setup")
def _human_approves(ctx: ScenarioContext, match: re.Match[str]) -> None:
    ctx.setup.human["approve"] = match["answer"].lower() == "approves"


# -- When ----------------------------------------------------------------------------------------


async def _run(ctx: ScenarioContext, match: re.Match[str]) -> None:
    if ctx.outcome is None:
        ctx.outcome = await ctx.run_procedure()


step(
    "when",
    r"(?:the procedure (?:runs|run|is run|executes|is executed)|I run the procedure)",
    "the procedure runs",
    "run",
)(_run)
step("when", r"the " + AGENT + r" takes? (?:a )?turns?", 'the agent "worker" takes turns', "run")(
    _run
)
