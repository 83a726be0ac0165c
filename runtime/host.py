"""The Python side of the DSL: what ``Agent{}``, ``Tool{}``, ``Procedure{}``, ``Log``, ``State``,
``require`` and handle calls do. One ``Host`` per Lua state, used only from its thread.

The host records declarations; what *calling* an agent or a human does is up to its ``Effects``:
a real run, or an inspection that stops at the first effect.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Protocol

import lupa.lua54 as lupa

from runtime import _state
from runtime._convert import HandleRef, Mode, TooLarge, measure, parse_handle, to_lua
from runtime.call_arguments import agent_arguments
from runtime.declarations import (
    AgentDecl,
    Declarations,
    ProcedureDecl,
    SpecificationDecl,
    StepDecl,
    ToolDecl,
    parse_agent_config,
)
from runtime.errors import DeclarationError, TideError
from runtime.evaluation.config import EVALUATOR_TYPES
from runtime.event_size import clip
from runtime.fields import coerce_inputs, parse_fields, parse_output
from runtime.json_namespace import json_call
from runtime.library import Library, toolsets
from runtime.memory import DECLARATION_BYTES, EVENT_BYTES, MemoryMeter, size_of
from runtime.predictors.classify import ClassifierDecl
from runtime.predictors.host_part import PREDICTION_KINDS, PredictionHostPart
from runtime.predictors.model import ModelDecl
from runtime.sandbox import Sandbox
from runtime.source import ProcedureSource, find_module
from runtime.state_tables import LiveTables
from runtime.subprocedure import checked_call
from runtime.tool_mocks import NO_MOCK, ToolMock
from runtime.tools import DONE_MODULES, LOG_MODULES, ToolLedger, done_tool, log_tool

TOOL_METHODS = ("called", "call_count", "last_call", "last_result", "calls", "reset")
AGENT_METHODS = ("turns", "history", "get_history", "clear_history")
PROCEDURE_METHODS = ()


class Effects(Protocol):
    """What calls with effects do. Called on the Lua thread."""

    def agent_call(self, agent: AgentDecl, message: str | None, options: dict[str, Any]) -> Any: ...

    def agent_method(self, agent: AgentDecl, method: str) -> Any: ...

    def log(self, level: str, message: str, fields: dict[str, Any], source: str | None) -> None: ...

    def tool_called(self, tool: ToolDecl, args: dict[str, Any]) -> Any: ...

    def human(self, op: str, args: list[Any]) -> Any: ...

    def predict(self, model: ModelDecl, payload: Any) -> Any: ...


class Host(PredictionHostPart):
    def __init__(
        self,
        source: ProcedureSource,
        effects: Effects,
        *,
        mocks_enabled: bool = False,
        sandbox_factory: Callable[[dict[str, Callable[..., Any]]], Sandbox] = Sandbox,
    ) -> None:
        self.source = source
        self.effects = effects
        self.mocks_enabled = mocks_enabled
        # Mocks that win over the file's own ``Mocks {}`` (a test scenario's), by name.
        self.mock_overrides: dict[str, Any] = {}
        self.declarations = Declarations()
        self.state = _state.StateStore()
        self.live_tables = LiveTables(
            self.state, lambda key, table: self._state_op("set", (key, table))
        )
        self.ledger = ToolLedger()
        self._next_id = 0
        self._handles: dict[tuple[str, int], Any] = {}
        # The agent called most recently (``MessageHistory`` edits its conversation).
        self.current_agent: AgentDecl | None = None
        self.library = Library(self)
        self.sandbox = sandbox_factory(
            {
                "declare": self._declare,
                "name_handle": self._name_handle,
                "parse_handle": self._parse_handle,
                "handle_name": self._handle_name,
                "handle_method": self._handle_method,
                "call": self._call,
                "namespace_call": self._namespace_call,
                "handle_get": self._handle_field,
                "library_call": self.library.lua_call,
                "log": self._print,
                "builtin_module": self._builtin_module,
                "lookup": self._lookup,
                "module_source": self._module_source,
                "evaluator_type": lambda name: name in EVALUATOR_TYPES,
            }
        )
        self.meter = MemoryMeter(self.sandbox.max_memory, self.sandbox.runtime.get_memory_used)

    # -- running the file ---------------------------------------------------------------------

    def execute_chunk(self) -> Any:
        chunk = self.sandbox.compile(self.source.text, self.source.display_name)
        returned = self.sandbox.call(chunk)
        try:
            return self.data(returned, "the file's result")
        except TideError as exc:
            exc.locate(self.source.display_name, self.source.text.count("\n") + 1)
            raise

    def call_procedure(self, procedure: ProcedureDecl, inputs: dict[str, Any]) -> Any:
        """Call a declared procedure's function with already-checked inputs."""
        if procedure.function is None:
            raise DeclarationError(
                f"procedure '{procedure.name or 'main'}' has no function",
                file=procedure.file,
                line=procedure.line,
                hint="add `function(input) ... end` inside Procedure { ... }",
            )
        # The run has one state: a procedure's declared defaults fill the keys not yet set.
        self.state.values.update(
            {k: v for k, v in procedure.state.items() if k not in self.state.values}
        )
        try:
            result = self.sandbox.call(procedure.function, self.to_lua(inputs))
        except BaseException:
            with contextlib.suppress(Exception):
                self.live_tables.sync()
            raise
        self.live_tables.sync()
        try:
            return self.data(result, f"procedure '{procedure.name or 'main'}''s output")
        except TideError as exc:
            exc.locate(procedure.file, procedure.line)
            raise

    def to_lua(self, value: Any) -> Any:
        return to_lua(self.sandbox.runtime, value, self._handle_ref, check=self.sandbox.check)

    def data(self, value: Any, what: str, *, mode: Mode = "data", keep: bool = False) -> Any:
        """A Lua value as Python data, counted against the run's memory: ``keep`` when the
        run holds on to it (events, the tool ledger), else only checked to fit."""
        result, size = self._measure(value, what, mode)
        if keep:
            self.meter.charge(size, what)
        else:
            self.meter.check(size, what)
        return result

    def _measure(self, value: Any, what: str, mode: Mode) -> tuple[Any, int]:
        """A Lua value as Python data and its size, stopped as soon as it would not fit."""
        sandbox, room = self.sandbox, self.meter.room()
        try:
            return measure(
                value, mode=mode, identity=sandbox.identity, check=sandbox.check, room=room
            )
        except TooLarge as exc:
            raise self.meter.error(what, exc.size) from None

    def _handle_ref(self, ref: HandleRef) -> Any:
        return self._handles.get((ref.kind, ref.id), str(ref))

    def handle(self, kind: str, ident: int) -> Any:
        return self._handles[(kind, ident)]

    # -- declarations -------------------------------------------------------------------------

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _declare(
        self, kind: str, name: str | None, config: Any, file: str | None, line: int | None
    ) -> Any:
        try:
            what = f"the {kind} declaration"
            value, size = self._measure(config, what, "declare")
            # Kept for the whole run, however often the same text is declared: each is a copy.
            self.meter.charge(size + DECLARATION_BYTES, what)
            if isinstance(value, list) and kind in ("tool", "procedure"):
                # `Procedure { function(input) ... end }` is a table with only positional items.
                value = {str(i): item for i, item in enumerate(value, start=1)}
            return self._declare_kind(kind, name, value, file, line)
        except TideError as exc:
            exc.locate(file, line)
            raise

    def _declare_kind(
        self, kind: str, name: str | None, config: Any, file: str | None, line: int | None
    ) -> Any:
        decls = self.declarations
        if kind == "agent":
            inline = config.pop("inline_tools", None) if isinstance(config, dict) else None
            agent_config, warnings = parse_agent_config(config)
            decls.warnings.extend((w, file, line) for w in warnings)
            agent = AgentDecl(self.new_id(), agent_config, file, line, name or agent_config.name)
            toolsets.declare_inline_tools(self, agent, inline)
            decls.agents[agent.id] = agent
            return self._make_handle("agent", agent.id, AGENT_METHODS)
        if kind == "toolset":
            return self._make_handle("toolset", toolsets.declare_toolset(self, name, config), ())
        if kind == "tool":
            if not isinstance(config, dict):
                raise DeclarationError(
                    "Tool expects a table: Tool { description = ..., function(args) ... end }"
                )
            tool = ToolDecl(
                self.new_id(),
                description=str(config.get("description", "")),
                input=parse_fields(config.get("input", config.get("parameters")), "a tool's input"),
                function=_lua_function(config.get("1", config.get("handler")), "Tool"),
                file=file,
                line=line,
                name=name or config.get("name"),
            )
            if tool.function is None:
                raise DeclarationError(
                    "Tool has no function", hint="add `function(args) ... end` inside Tool { ... }"
                )
            decls.tools[tool.id] = tool
            return self.register_tool(tool)
        if kind == "procedure":
            if not isinstance(config, dict):
                raise DeclarationError(
                    "Procedure expects a table: Procedure { function(input) ... end }"
                )
            procedure = ProcedureDecl(
                self.new_id(),
                input=parse_fields(config.get("input"), "a procedure's input"),
                output=parse_output(config.get("output"), "a procedure's output"),
                state=_state.initial_state(config.get("state")),
                function=_lua_function(config.get("1", config.get("run")), "Procedure"),
                file=file,
                line=line,
                name=name,
            )
            decls.procedures[procedure.id] = procedure
            return self._make_handle("procedure", procedure.id, PROCEDURE_METHODS)
        if kind == "input":
            decls.script_input = parse_fields(config, "input")
            return None
        if kind == "output":
            decls.script_output = parse_output(config, "output")
            return None
        if kind == "mocks":
            if not isinstance(config, dict):
                raise DeclarationError("Mocks expects a table keyed by agent or tool name")
            decls.mocks.update(config)
            return None
        if kind == "specification":
            text = config if isinstance(config, str) else name
            if not isinstance(text, str):
                raise DeclarationError(
                    "Specification expects Gherkin text: Specification([[ ... ]])"
                )
            decls.specifications.append(SpecificationDecl(text, file, line))
            return None
        if kind in PREDICTION_KINDS:
            return self._declare_prediction(kind, name, config, file, line)
        if kind == "step":
            if name is None or config is None:
                raise DeclarationError(
                    'Step expects a phrase and a function: Step("...", function(ctx) ... end)'
                )
            decls.steps.append(StepDecl(name, config, file, line))
            return None
        raise DeclarationError(f"unknown declaration {kind}")

    def register_tool(self, tool: ToolDecl) -> Any:
        """Give a declared tool its handle."""
        return self._make_handle("tool", tool.id, TOOL_METHODS)

    def _make_handle(self, kind: str, ident: int, methods: tuple[str, ...]) -> Any:
        handle = self.sandbox.make_handle(kind, ident, methods)
        self._handles[(kind, ident)] = handle
        return handle

    def _table(self, kind: str) -> dict[int, Any]:
        decls = self.declarations
        tables: dict[str, dict[int, Any]] = {
            "agent": decls.agents,
            "tool": decls.tools,
            "procedure": decls.procedures,
            "model": decls.models,
            "classifier": decls.classifiers,
            "toolset": decls.toolsets,
        }
        return tables.get(kind, {})

    def _lookup(self, kind: str, name: str) -> Any:
        table = self._table(kind)
        for ident, decl in table.items():
            if decl.name == name:
                return self.handle(kind, ident)
        return None

    def _parse_handle(self, tag: str) -> tuple[str, int]:
        ref = parse_handle(tag)
        return ref.kind, ref.id

    def declaration(self, kind: str, ident: int) -> Any:
        table = self._table(kind)
        if kind == "model" and ident not in table:  # the model a classifier asks (`c.model`)
            classifiers = self.declarations.classifiers.values()
            return next(c.model for c in classifiers if c.model and c.model.id == ident)
        return table[ident]

    def _name_handle(self, kind: str, ident: int, name: str) -> None:
        decl = self.declaration(kind, ident)
        if decl.name is None:
            decl.name = name
            if isinstance(decl, AgentDecl):
                toolsets.name_inline_tools(self, decl)

    def _handle_name(self, kind: str, ident: int) -> str:
        decl = self.declaration(kind, ident)
        return decl.name or f"{kind}{ident}"

    # -- calls --------------------------------------------------------------------------------

    def _call(self, kind: str, ident: int, file: str | None, line: int | None, *args: Any) -> Any:
        try:
            decl = self.declaration(kind, ident)
            if isinstance(decl, AgentDecl):
                message, options = agent_arguments(
                    [self.data(a, f"agent '{decl.name}''s message", keep=True) for a in args]
                )
                if decl.name is None:
                    decl.name = f"agent{decl.id}"
                # A turn's events: begun, ended, its cost and at least one chunk.
                self.meter.charge(4 * EVENT_BYTES, f"agent '{decl.name}''s turns")
                self.current_agent = decl
                return self.to_lua(self.effects.agent_call(decl, message, options))
            if isinstance(decl, ToolDecl):
                arguments = self.data(args[0], "tool arguments", keep=True) if args else {}
                result = self.effects.tool_called(
                    decl, arguments if isinstance(arguments, dict) else {"value": arguments}
                )
                return self.to_lua(result)
            if isinstance(decl, (ModelDecl, ClassifierDecl)):
                return self._call_prediction(
                    decl, self.data(args[0], f"{kind} input") if args else None
                )
            if isinstance(decl, ProcedureDecl):
                inputs = self.data(args[0], "procedure inputs") if args else {}
                return self.call_subprocedure(decl, inputs)
            raise DeclarationError(f"a {kind} cannot be called")
        except TideError as exc:
            exc.locate(file, line)
            raise

    def call_subprocedure(self, procedure: ProcedureDecl, arguments: Any) -> Any:
        output = checked_call(self.effects, procedure, arguments, self.call_procedure)
        return self.to_lua(output)

    def invoke_tool(self, tool: ToolDecl, arguments: dict[str, Any]) -> Any:
        """Run a tool's function (on the Lua thread); record the call; return its result."""
        checked = coerce_inputs(tool.input, arguments) if tool.input else arguments
        mock = self.tool_mock(tool.name, checked, len(self.ledger.of(tool.id)) + 1)
        if mock is not NO_MOCK:
            result = mock
        elif tool.builtin:
            result = tool.function(checked)
        else:
            result = self.data(
                self.sandbox.call(tool.function, self.to_lua(checked)),
                f"tool '{tool.name}''s result",
                keep=True,
            )
        # Its record here, and its two events (called, returned) wherever they are kept.
        self.meter.charge(2 * EVENT_BYTES, f"tool '{tool.name}''s calls")
        self.ledger.record(tool.id, checked, result)
        return result

    def mock_for(self, name: str) -> Any:
        """The mock entry for an agent or tool: an override, else the file's ``Mocks {}``."""
        if name in self.mock_overrides:
            return self.mock_overrides[name]
        return self.declarations.mocks.get(name)

    def tool_mock(self, name: str | None, args: dict[str, Any] | None = None, call: int = 1) -> Any:
        """The mocked result of a tool's ``call``-th call, or ``NO_MOCK`` to run the tool."""
        if not self.mocks_enabled or name is None:
            return NO_MOCK
        mock = ToolMock.parse(self.mock_for(name))
        return NO_MOCK if mock is None else mock.result(args or {}, call)

    def _handle_method(self, kind: str, ident: int, method: str, *args: Any) -> Any:
        decl = self.declaration(kind, ident)
        if isinstance(decl, ToolDecl):
            return self.to_lua(self.ledger.method(decl.id, method, decl.name or f"tool{decl.id}"))
        if isinstance(decl, AgentDecl):
            return self.to_lua(self.effects.agent_method(decl, method))
        if isinstance(decl, ClassifierDecl) and method == "parse_response":
            return self._parse_response(decl, args[0] if args else None)
        if isinstance(decl, (ModelDecl, ClassifierDecl)):
            return self._call(kind, ident, None, None, *args)
        raise DeclarationError(f"{kind} handles have no method '{method}'")

    def _namespace_call(
        self, namespace: str, function: str, file: str | None, line: int | None, *args: Any
    ) -> Any:
        try:
            if namespace == "Log":
                self.meter.charge(EVENT_BYTES, "a log message")
                values = [self.data(a, "a log message", mode="log", keep=True) for a in args]
                message = clip(str(values[0])) if values else ""
                fields = values[1] if len(values) > 1 and isinstance(values[1], dict) else {}
                level = "warn" if function == "warning" else function
                self.effects.log(level, message, fields, _source(file, line))
                return None
            if namespace == "State":
                return self.live_tables.lua_call(function, args, self._state_op, self.to_lua)
            values = [self.data(a, f"{namespace}.{function}'s arguments") for a in args]
            if namespace == "Json":
                return self.to_lua(json_call(function, values))
            self.meter.charge(2 * EVENT_BYTES, f"Human.{function}")  # asked, answered
            return self.to_lua(self.effects.human(function, values))
        except TideError as exc:
            exc.locate(file, line)
            raise

    def _state_op(self, function: str, args: tuple[Any, ...]) -> Any:
        values = [self.data(a, f"State.{function}'s value") for a in args]
        result = self.state.call(function, values)
        if function == "clear":
            self.meter.clear_state()
        elif function == "append" and values and isinstance(values[0], str):
            item = values[1] if len(values) > 1 else None
            key = values[0]
            self.meter.set_state(key, self.meter.state_size(key) + 64 + size_of(item))
        elif function in ("set", "increment") and values and isinstance(values[0], str):
            key = values[0]
            current = self.state.values.get(key)
            self.meter.set_state(key, 0 if current is None else size_of(current))
        return result

    def _print(
        self, level: str, message: str, fields: Any, file: str | None, line: int | None
    ) -> None:
        self.meter.charge(len(message) + EVENT_BYTES, "printed text")
        self.effects.log(level, clip(message), {}, _source(file, line))

    # -- modules ------------------------------------------------------------------------------

    def done_tool(self) -> ToolDecl:
        """The run's built-in ``done`` tool, created on first use."""
        return self._builtin_tool("done", done_tool)

    def _builtin_tool(self, name: str, make: Callable[[int], ToolDecl]) -> ToolDecl:
        existing = next(
            (t for t in self.declarations.tools.values() if t.builtin and t.name == name), None
        )
        if existing is not None:
            return existing
        tool = make(self.new_id())
        self.declarations.tools[tool.id] = tool
        self._make_handle("tool", tool.id, TOOL_METHODS)
        return tool

    def _tool_log(self, level: str, message: str, fields: dict[str, Any]) -> None:
        self.meter.charge(len(message) + EVENT_BYTES, "logged text")
        self.effects.log(level, clip(message), fields, None)

    def _builtin_module(self, name: str) -> Any:
        if name in DONE_MODULES:
            return self.handle("tool", self.done_tool().id)
        if name in LOG_MODULES:
            tool = self._builtin_tool("log", lambda ident: log_tool(ident, self._tool_log))
            return self.handle("tool", tool.id)
        return self._prediction_module(name)

    def _module_source(self, name: str) -> tuple[str, str]:
        return find_module(name, self.source.project_root)


def _lua_function(value: Any, what: str) -> Any:
    """``value`` if it is a Lua function (or absent); a table that can be called is not one:
    it arrived here as data."""
    if value is None or lupa.lua_type(value) == "function":
        return value
    kind = lupa.lua_type(value) or type(value).__name__
    kind = {"dict": "table", "list": "table", "str": "string", "int": "number"}.get(kind, kind)
    raise DeclarationError(f"{what}'s function must be a Lua function, not a {kind}")


def _source(file: str | None, line: int | None) -> str | None:
    return f"{file}:{line}" if file else None
