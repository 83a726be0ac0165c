"""Custom steps: ``Step("the answer is polite", function(ctx) ... end)`` in the procedure.

A custom step's text matches a scenario step case-insensitively, as a regular expression (its
groups become extra arguments) or, if it is not a valid one, as plain text. Its function runs
after the run, in the scenario's own sandbox, so ``state``, ``State.get`` and tool handles see
that run; it gets a ``ctx`` table and fails by raising an error or returning false.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread

from runtime.declarations import AgentDecl, ToolDecl
from runtime.errors import DeclarationError, TideError
from runtime.human import HumanResponder
from runtime.predictors.model import ModelDecl
from runtime.predictors.predict import Predictor
from runtime.predictors.services import OfflinePredictionServices
from runtime.testing.mocked_turn import mocked_turn
from runtime.testing.steps import ScenarioContext, StepFailure

CUSTOM_STEP_TIMEOUT_S = 10.0
# Lua authors write ``%d+`` where Python writes ``\d+``: both are accepted in step texts.
_LUA_CLASS = re.compile(r"%(.)")
_LUA_CLASSES = {"d": r"\d", "s": r"\s", "w": r"[^\W_]", "a": r"[^\W\d_]", "D": r"\D", "S": r"\S"}


def _from_lua_class(match: re.Match[str]) -> str:
    char = match[1]
    return _LUA_CLASSES.get(char, re.escape(char))


@dataclass(frozen=True)
class CustomStep:
    text: str
    pattern: re.Pattern[str] | None

    @classmethod
    def of(cls, text: str) -> CustomStep:
        source = _LUA_CLASS.sub(_from_lua_class, text.strip()) if "%" in text else text.strip()
        try:
            pattern: re.Pattern[str] | None = re.compile(source, re.IGNORECASE)
        except re.error:
            pattern = None
        return cls(text, pattern)

    def match(self, text: str) -> tuple[str, ...] | None:
        """The captured groups when ``text`` is this step, else None."""
        written = text.strip()
        if written.lower() == self.text.strip().lower():
            return ()
        if self.pattern is not None:
            found = self.pattern.fullmatch(written)
            if found:
                return tuple(g if g is not None else "" for g in found.groups())
        return None


def find_custom(custom: list[CustomStep], text: str) -> tuple[CustomStep, tuple[str, ...]] | None:
    for candidate in custom:
        groups = candidate.match(text)
        if groups is not None:
            return candidate, groups
    return None


class _AfterRun:
    """What effects do while a custom step runs: the run is over, so agents answer from mocks."""

    def __init__(self, host: Any) -> None:
        self.host = host
        self.run_effects = host.effects
        self.responder = HumanResponder(mock=True)
        self.predictor: Predictor | None = None
        self.turns: dict[int, int] = {}

    def agent_call(self, agent: AgentDecl, message: str | None, options: dict[str, Any]) -> Any:
        # A mocked scenario answers from the agent's mocks, counting on from the run's turns;
        # a real one has no model left to ask.
        if not self.host.mocks_enabled:
            raise DeclarationError("custom steps cannot call agents in a real run: it is over")
        return mocked_turn(self.host, agent, message, self._turn(agent))

    def _turn(self, agent: AgentDecl) -> int:
        self.turns[agent.id] = self.turns.get(agent.id, self.agent_method(agent, "turns")) + 1
        return self.turns[agent.id]

    def agent_method(self, agent: AgentDecl, method: str) -> Any:
        # Turns and history were recorded by the run and are still there to read.
        return self.run_effects.agent_method(agent, method)

    def log(self, level: str, message: str, fields: dict[str, Any], source: str | None) -> None:
        # The run's event stream is closed; a step reports through its result or its error.
        return None

    def tool_called(self, tool: ToolDecl, args: dict[str, Any]) -> Any:
        return self.host.invoke_tool(tool, args)

    def human(self, op: str, args: list[Any]) -> Any:
        return self.responder.respond(op, args)

    def predict(self, model: ModelDecl, payload: Any) -> Any:
        # Mocks answer as they did in the run, counting on from the run's calls.
        earlier = self.run_effects
        run_predictor = getattr(earlier, "_predictor", None) or getattr(earlier, "predictor", None)
        if self.predictor is None:
            self.predictor = Predictor(OfflinePredictionServices(self.host))
            if run_predictor is not None:
                self.predictor.calls = dict(run_predictor.calls)
        return self.predictor.predict(model, payload)


def _context_table(ctx: ScenarioContext) -> dict[str, Any]:
    result = ctx.finished.result
    tool_calls = {name: ctx.finished.tool_calls(name) for name in result.tool_calls}
    step = ctx.step
    return {
        "output": result.output,
        "state": result.state,
        "status": result.status,
        "ok": result.ok,
        "error": result.error.message if result.error else None,
        "tool_calls": tool_calls,
        "agent_turns": result.agent_turns,
        "iterations": ctx.finished.iterations,
        "inputs": ctx.setup.inputs,
        "step": step.text if step else None,
        "doc_string": step.doc_string if step else None,
        "table": [list(row) for row in step.table] if step and step.table else None,
    }


async def run_custom_step(
    ctx: ScenarioContext, custom: CustomStep, groups: tuple[str, ...]
) -> None:
    host = ctx.finished.host
    if host is None:
        raise StepFailure("the procedure did not start, so custom steps cannot run")
    decl = next((s for s in host.declarations.steps if s.text == custom.text), None)
    if decl is None:
        raise StepFailure(f"the custom step {custom.text!r} was not declared in this run")
    table = _context_table(ctx)

    def call() -> Any:
        host.effects = _AfterRun(host)
        # A custom step that never returns must not hang the suite.
        timer = threading.Timer(CUSTOM_STEP_TIMEOUT_S, host.sandbox.abort, ("timeout",))
        timer.start()
        try:
            return host.sandbox.call(decl.function, host.to_lua(table), *groups)
        finally:
            timer.cancel()

    try:
        returned = await anyio.to_thread.run_sync(call, limiter=ctx.limiter)
    except TideError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        raise StepFailure(f"custom step failed{where}: {exc.message}") from None
    if returned is False:
        raise StepFailure("custom step returned false")
