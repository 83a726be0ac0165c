"""Tool bookkeeping: every call a tool receives, and the built-in ``done`` and ``log`` tools."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runtime.declarations import ToolDecl
from runtime.errors import DeclarationError
from runtime.fields import FieldSpec, json_schema
from runtime.models.base import ToolSpec

DONE_MODULES = frozenset({"tactus.tools.done", "tide.tools.done"})
LOG_MODULES = frozenset({"tactus.tools.log", "tide.tools.log"})
_LOG_LEVELS = {
    "debug": "debug",
    "info": "info",
    "warn": "warn",
    "warning": "warn",
    "error": "error",
}


@dataclass
class ToolCallRecord:
    args: dict[str, Any]
    result: Any


@dataclass
class ToolLedger:
    calls: dict[int, list[ToolCallRecord]] = field(default_factory=dict)

    def record(self, tool_id: int, args: dict[str, Any], result: Any) -> None:
        self.calls.setdefault(tool_id, []).append(ToolCallRecord(copy.deepcopy(args), result))

    def of(self, tool_id: int) -> list[ToolCallRecord]:
        return self.calls.get(tool_id, [])

    def method(self, tool_id: int, method: str, name: str) -> Any:
        calls = self.of(tool_id)
        last = calls[-1] if calls else None
        if method == "called":
            return bool(calls)
        if method == "call_count":
            return len(calls)
        if method == "last_call":
            return (
                None if last is None else {"name": name, "args": last.args, "result": last.result}
            )
        if method == "last_result":
            return None if last is None else last.result
        if method == "calls":
            return [{"name": name, "args": c.args, "result": c.result} for c in calls]
        if method == "reset":
            self.calls.pop(tool_id, None)
            return None
        raise DeclarationError(f"tools have no method '{method}'")


def _done(args: dict[str, Any]) -> dict[str, Any]:
    return {"status": "completed", "reason": args.get("reason") or "Task completed", "tool": "done"}


def done_tool(ident: int) -> ToolDecl:
    """The built-in ``done`` tool: calling it ends the agent's tool loop."""
    return ToolDecl(
        ident,
        description="Call this when the task is complete, with the final answer or a summary as the reason.",
        input={"reason": FieldSpec(type="string", description="The final answer or a summary")},
        function=_done,
        file=None,
        line=None,
        name="done",
        builtin=True,
    )


def log_tool(ident: int, emit: Callable[[str, str, dict[str, Any]], None]) -> ToolDecl:
    """The built-in ``log`` tool: an agent writes a log event of the run (an unknown level
    is logged as info)."""

    def log(args: dict[str, Any]) -> dict[str, Any]:
        level = _LOG_LEVELS.get(str(args.get("level") or "info").lower(), "info")
        message = str(args.get("message") or "")
        data = args.get("data")
        emit(level, message, data if isinstance(data, dict) else {})
        return {"logged": True, "level": level, "message": message}

    return ToolDecl(
        ident,
        description="Log a message while working: what you found, decided or could not do.",
        input={
            "message": FieldSpec(type="string", required=True, description="What to log"),
            "level": FieldSpec(type="string", description="debug, info, warn or error"),
            "data": FieldSpec(type="object", description="Details to keep with the message"),
        },
        function=log,
        file=None,
        line=None,
        name="log",
        builtin=True,
    )


def tool_spec(name: str, tool: ToolDecl) -> ToolSpec:
    """The tool as a model sees it: its name, description and arguments' JSON Schema."""
    schema = (
        json_schema(tool.input, "Arguments") if tool.input else {"type": "object", "properties": {}}
    )
    return ToolSpec(name=name, description=tool.description, parameters=schema)
