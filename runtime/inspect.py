"""Inspecting a procedure without running it: its inputs, outputs, agents, mocks and
specifications.

The file's top level runs in a sandbox that stops at the first effect (an agent call, a tool
call, a question to a human), which is how declarations are read from ordinary Lua code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from runtime.declarations import AgentDecl, Declarations, ToolDecl
from runtime.errors import (
    TOP_LEVEL_HINT,
    DeclarationError,
    ProcedureRuntimeError,
    SandboxLimitError,
)
from runtime.evaluation.config import EvaluationsConfig, EvaluationSettings
from runtime.fields import Fields
from runtime.host import Host
from runtime.predictors.model import ModelDecl
from runtime.sandbox import DEFAULT_MAX_MEMORY, Sandbox
from runtime.source import ProcedureSource
from runtime.tool_references import ToolProblem, tool_problems

Mode = Literal["procedure", "script"]


class StopInspection(BaseException):
    """Unwinds the inspection at the first effect."""


class _Inspecting:
    def agent_call(self, agent: AgentDecl, message: str | None, options: dict[str, Any]) -> Any:
        raise StopInspection

    def agent_method(self, agent: AgentDecl, method: str) -> Any:
        if method == "output":
            return None
        return 0 if method == "turns" else []

    def log(self, level: str, message: str, fields: dict[str, Any], source: str | None) -> None:
        return None

    def tool_called(self, tool: ToolDecl, args: dict[str, Any]) -> Any:
        raise StopInspection

    def human(self, op: str, args: list[Any]) -> Any:
        raise StopInspection

    def predict(self, model: ModelDecl, payload: Any) -> Any:
        raise StopInspection

    def sleep(self, seconds: float) -> None:
        raise StopInspection

    def run_procedure(self, path: Any, inputs: dict[str, Any]) -> Any:
        raise StopInspection

    def before_file_write(self) -> None:
        raise StopInspection


@dataclass
class AgentInfo:
    name: str
    model: str | None
    line: int | None
    output: Fields | None = None
    api_base: str | None = None


@dataclass
class ProcedureInfo:
    source: ProcedureSource
    mode: Mode
    inputs: Fields
    outputs: Fields
    agents: list[AgentInfo]
    tools: list[str]
    mocks: dict[str, Any]
    specifications: list[tuple[str, int | None]]
    steps: list[str]
    warnings: list[tuple[str, str | None, int | None]] = field(default_factory=list)
    # Models and classifiers that ask an LLM: their credentials are checked like agents'.
    llm_models: list[AgentInfo] = field(default_factory=list)
    evaluation: EvaluationSettings | None = None
    evaluations: EvaluationsConfig | None = None
    toolsets: list[str] = field(default_factory=list)
    # Names in agents' `tools` (and toolsets) that nothing declares.
    tool_problems: list[ToolProblem] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """What the IDE's inputs form and ``tide validate --json`` show."""
        return {
            "mode": self.mode,
            "inputs": [{"name": n, **s.describe()} for n, s in self.inputs.items()],
            "outputs": [{"name": n, **s.describe()} for n, s in self.outputs.items()],
            "agents": [{"name": a.name, "model": a.model} for a in self.agents],
            "tools": self.tools,
            "toolsets": self.toolsets,
            "specifications": len(self.specifications),
        }


def inspect_procedure(
    source: ProcedureSource, *, timeout_s: float = 10.0, max_memory: int = DEFAULT_MAX_MEMORY
) -> ProcedureInfo:
    """Read a procedure's declarations. Raises syntax and declaration errors."""
    deadline = time.monotonic() + timeout_s

    def sandbox(host_functions: dict[str, Any]) -> Sandbox:
        return Sandbox(host_functions, max_memory=max_memory, deadline=deadline)

    host = Host(source, _Inspecting(), sandbox_factory=sandbox)
    host.sandbox.set_inputs(host.to_lua({}))
    returned: Any = None
    stopped = False
    try:
        returned = host.execute_chunk()
    except StopInspection:
        stopped = True
    except SandboxLimitError as exc:
        if exc.kind != "timeout":
            raise
        # The run's own timeout may be longer: say which limit this is, and what it is for.
        raise SandboxLimitError(
            "timeout",
            f"the procedure's top level ran out of time: it is read within {timeout_s:g} s",
            hint=TOP_LEVEL_HINT,
            file=exc.file,
            line=exc.line,
        ) from None
    except ProcedureRuntimeError:
        # A script's body is its top level, which runs here without the script's inputs
        # (`"about " .. input.topic` fails on nil): an error there is for the run to report.
        if host.declarations.script_input is None:
            raise
        stopped = True
    return summarize(source, host.declarations, returned=returned, stopped_early=stopped)


def decide_mode(decls: Declarations, *, returned: Any, stopped_early: bool) -> Mode:
    if decls.script_input is not None or decls.script_output is not None or returned is not None:
        return "script"
    if decls.main_procedure() is not None:
        return "procedure"
    if stopped_early:
        return "script"
    raise DeclarationError(
        "this file declares no procedure",
        hint="add Procedure { function(input) ... end }, or write a script that ends in `return {...}`",
    )


def summarize(
    source: ProcedureSource, decls: Declarations, *, returned: Any, stopped_early: bool
) -> ProcedureInfo:
    mode = decide_mode(decls, returned=returned, stopped_early=stopped_early)
    main = decls.main_procedure() if mode == "procedure" else None
    if mode == "procedure" and main is not None and main.function is None:
        raise DeclarationError(
            "the Procedure has no function",
            file=main.file,
            line=main.line,
            hint="add `function(input) ... end` inside Procedure { ... }",
        )
    inputs = main.input if main else (decls.script_input or {})
    outputs = main.output if main else (decls.script_output or {})
    return ProcedureInfo(
        source=source,
        mode=mode,
        inputs=inputs,
        outputs=outputs,
        agents=[
            AgentInfo(
                a.name or f"agent{a.id}",
                a.config.model_name,
                a.line,
                a.config.output,
                a.config.api_base,
            )
            for a in decls.agents.values()
        ],
        tools=[t.name or f"tool{t.id}" for t in decls.tools.values()],
        mocks=dict(decls.mocks),
        specifications=[(s.text, s.line) for s in decls.specifications],
        steps=[s.text for s in decls.steps],
        warnings=list(decls.warnings),
        llm_models=_llm_models(decls),
        evaluation=decls.evaluation,
        evaluations=decls.evaluations,
        toolsets=[t.name for t in decls.toolsets.values()],
        tool_problems=tool_problems(decls, source.text),
    )


def _llm_models(decls: Declarations) -> list[AgentInfo]:
    models = [m for m in decls.models.values() if m.type == "llm"]
    models += [c.model for c in decls.classifiers.values() if c.model is not None]
    infos = []
    for model in models:
        name = str(model.config.get("model") or "")
        provider = model.config.get("provider")
        if provider and "/" not in name:
            name = f"{provider}/{name}"
        api_base = model.config.get("api_base")
        infos.append(
            AgentInfo(model.name or f"model{model.id}", name or None, model.line, None, api_base)
        )
    return infos


__all__ = ["ProcedureInfo", "StopInspection", "inspect_procedure"]
