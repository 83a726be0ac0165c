"""Tool bookkeeping: every call a tool receives, and the built-in ``done`` tool."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runtime.declarations import AgentDecl, Declarations, ToolDecl
from runtime.errors import DeclarationError
from runtime.fields import FieldSpec

DONE_MODULES = frozenset({"tactus.tools.done", "tide.tools.done"})


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

    def method(self, tool_id: int, method: str) -> Any:
        calls = self.of(tool_id)
        last = calls[-1] if calls else None
        if method == "called":
            return bool(calls)
        if method == "call_count":
            return len(calls)
        if method == "last_call":
            return None if last is None else {"args": last.args, "result": last.result}
        if method == "last_result":
            return None if last is None else last.result
        if method == "calls":
            return [{"args": c.args, "result": c.result} for c in calls]
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


def agent_tools(
    agent: AgentDecl, entries: Any, declarations: Declarations, done: Callable[[], ToolDecl]
) -> list[ToolDecl]:
    """The tools an agent's turn may call: ``entries`` (its ``tools``, or a call's override)
    are Tool handles or names; ``done`` is the built-in tool, declared on first use."""
    tools: list[ToolDecl] = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, str):
            tool = declarations.tool_named(entry)
            if tool is None and entry == "done":
                tool = done()
            if tool is None:
                raise DeclarationError(
                    f"agent '{agent.name}' lists tool '{entry}', which is not declared",
                    hint=f"declare it: {entry} = Tool {{ ... }}",
                )
            tools.append(tool)
        elif getattr(entry, "kind", None) == "tool":
            tools.append(declarations.tools[entry.id])
        else:
            raise DeclarationError(
                f"agent '{agent.name}': tools must be Tool handles or tool names"
            )
    return tools
