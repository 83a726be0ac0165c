"""``Toolset``s, an agent's ``inline_tools``, and the tools an agent's ``tools`` list names.

``Toolset "files" { tools = { {name = "read", handler = ...}, ... } }`` declares each inline
tool as a tool named ``files_read``; ``Toolset "team" { tools = {"search", "fetch"} }`` groups
tools declared elsewhere. An agent lists tools and toolsets by name or handle in ``tools``, or
filters a toolset with ``{name = "files", include = {...}, exclude = {...}, prefix = "..."}``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from runtime._convert import HandleRef
from runtime.declarations import AgentDecl, ToolDecl, ToolsetDecl
from runtime.errors import DeclarationError
from runtime.fields import parse_fields

if TYPE_CHECKING:
    from runtime.library._host import LibraryHost

TOOLSET_KEYS = frozenset({"description", "tools", "use", "type", "name"})


def inline_tool(host: LibraryHost, owner: str, entry: Any, index: int) -> ToolDecl:
    """A tool written inside a toolset or an agent: ``{name, description, input, handler}``."""
    if not isinstance(entry, dict):
        raise DeclarationError(
            f"{owner}: tool {index} must be a table {{name = ..., handler = ...}}"
        )
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise DeclarationError(f"{owner}: tool {index} has no name")
    function = entry.get("handler", entry.get("1", entry.get(1)))
    if function is None:
        raise DeclarationError(
            f"{owner}: tool '{name}' has no handler", hint="add handler = function(args) ... end"
        )
    return ToolDecl(
        host.new_id(),
        description=str(entry.get("description", "")),
        input=parse_fields(entry.get("input", entry.get("parameters")), f"tool '{name}''s input"),
        function=function,
        file=None,
        line=None,
        name=name,
    )


def declare_inline_tools(host: LibraryHost, agent: AgentDecl, entries: Any) -> None:
    """An agent's ``inline_tools``: tools named ``<agent>_<tool>`` once the agent has a name."""
    if entries is None:
        return
    if isinstance(entries, dict):
        entries = list(entries.values())
    if not isinstance(entries, list):
        raise DeclarationError("an agent's inline_tools must be a list of tools")
    for index, entry in enumerate(entries, start=1):
        tool = inline_tool(host, "inline_tools", entry, index)
        host.declarations.tools[tool.id] = tool
        host.register_tool(tool)
        agent.inline_tools.append(tool.id)
        host.library.inline_names[tool.id] = tool.name or ""
    name_inline_tools(host, agent)


def name_inline_tools(host: LibraryHost, agent: AgentDecl) -> None:
    if agent.name is None:
        return
    for tool_id in agent.inline_tools:
        short = host.library.inline_names[tool_id]
        host.declarations.tools[tool_id].name = f"{agent.name}_{short}"


def declare_toolset(host: LibraryHost, name: str | None, config: Any) -> int:
    """Declare a toolset (and its inline tools); its id."""
    toolset = _toolset(host, name, config)
    host.declarations.toolsets[toolset.id] = toolset
    return toolset.id


def _toolset(host: LibraryHost, name: str | None, config: Any) -> ToolsetDecl:
    if not name:
        raise DeclarationError('Toolset needs a name: Toolset "name" { tools = { ... } }')
    if not isinstance(config, dict):
        raise DeclarationError(
            f"Toolset '{name}' expects a table: Toolset \"{name}\" {{ tools = {{ ... }} }}"
        )
    unknown = sorted(str(k) for k in config if str(k) not in TOOLSET_KEYS)
    if unknown:
        raise DeclarationError(
            f"Toolset '{name}': unknown key '{unknown[0]}'", hint="known keys: description, tools"
        )
    toolset = ToolsetDecl(host.new_id(), name, str(config.get("description", "")))
    if "use" in config or "type" in config:
        host.declarations.warnings.append(
            (
                f"toolset '{name}': external toolsets (use/type) are not available in Tide; it has no tools",
                None,
                None,
            )
        )
    entries = config.get("tools") or []
    if isinstance(entries, dict):
        entries = list(entries.values())
    if not isinstance(entries, list):
        raise DeclarationError(f"Toolset '{name}': tools must be a list")
    for index, entry in enumerate(entries, start=1):
        if isinstance(entry, dict):
            tool = inline_tool(host, f"Toolset '{name}'", entry, index)
            tool.name = f"{name}_{tool.name}"
            host.declarations.tools[tool.id] = tool
            host.register_tool(tool)
            toolset.members.append(tool.id)
        elif isinstance(entry, str):
            toolset.references.append(entry)
        elif isinstance(entry, HandleRef) and entry.kind == "tool":
            toolset.members.append(entry.id)
        else:
            raise DeclarationError(
                f"Toolset '{name}': tool {index} must be a name, a Tool or an inline tool"
            )
    return toolset


def agent_tools(host: LibraryHost, agent: AgentDecl, override: Any) -> list[ToolDecl]:
    """The tools an agent offers its model (its ``tools``, or a call's ``tools`` instead), each
    under the name the model sees."""
    entries = agent.config.tools if override is None else override
    if not isinstance(entries, list):
        entries = []
    tools: list[ToolDecl] = []
    for entry in entries:
        tools.extend(_entry_tools(host, agent, entry))
    tools.extend(host.declarations.tools[i] for i in agent.inline_tools)
    seen: dict[str, ToolDecl] = {}
    for tool in tools:
        seen.setdefault(tool.name or f"tool{tool.id}", tool)
    return list(seen.values())


def _entry_tools(host: LibraryHost, agent: AgentDecl, entry: Any) -> list[ToolDecl]:
    decls = host.declarations
    if isinstance(entry, HandleRef):
        if entry.kind == "tool":
            return [decls.tools[entry.id]]
        if entry.kind == "toolset":
            return members(host, decls.toolsets[entry.id])
    if isinstance(entry, str):
        tool = decls.tool_named(entry)
        if tool is None and entry == "done":
            tool = host.done_tool()
        if tool is not None:
            return [tool]
        toolset = decls.toolset_named(entry)
        if toolset is not None:
            return members(host, toolset)
        raise DeclarationError(
            f"agent '{agent.name}' lists tool '{entry}', which is not declared",
            hint=f'declare it: {entry} = Tool {{ ... }}, or Toolset "{entry}" {{ ... }}',
        )
    if isinstance(entry, dict):
        if "handler" in entry:
            raise DeclarationError(
                f"agent '{agent.name}': a tool written inside `tools` belongs in `inline_tools`",
                hint="inline_tools = { {name = ..., handler = function(args) ... end} }",
            )
        if not isinstance(entry.get("name"), (str, HandleRef)):
            raise DeclarationError(
                f"agent '{agent.name}': a toolset filter needs the toolset's name"
            )
        return _filtered(host, agent, entry)
    raise DeclarationError(
        f"agent '{agent.name}': tools must be Tool or Toolset handles, or their names"
    )


def members(
    host: LibraryHost, toolset: ToolsetDecl, seen: frozenset[int] = frozenset()
) -> list[ToolDecl]:
    if toolset.id in seen:
        raise DeclarationError(f"toolset '{toolset.name}' includes itself")
    decls = host.declarations
    tools = [decls.tools[i] for i in toolset.members]
    for reference in toolset.references:
        tool = decls.tool_named(reference)
        if tool is None and reference == "done":
            tool = host.done_tool()
        if tool is not None:
            tools.append(tool)
            continue
        inner = decls.toolset_named(reference)
        if inner is None:
            raise DeclarationError(
                f"toolset '{toolset.name}' lists '{reference}', which is not declared"
            )
        tools.extend(members(host, inner, seen | {toolset.id}))
    return tools


def _filtered(host: LibraryHost, agent: AgentDecl, entry: dict[str, Any]) -> list[ToolDecl]:
    name = entry.get("name")
    tools = _entry_tools(host, agent, name if isinstance(name, (str, HandleRef)) else None)
    include, exclude = _names(entry.get("include")), _names(entry.get("exclude"))
    prefix = entry.get("prefix")

    def matches(tool: ToolDecl, names: set[str]) -> bool:
        # A toolset's own tools may be named with or without the toolset's prefix.
        full = tool.name or ""
        short = full.removeprefix(f"{name}_") if isinstance(name, str) else full
        return full in names or short in names

    chosen = [t for t in tools if (include is None or matches(t, include))]
    chosen = [t for t in chosen if exclude is None or not matches(t, exclude)]
    if isinstance(prefix, str) and prefix:
        joiner = "" if prefix.endswith("_") else "_"
        chosen = [dataclasses.replace(t, name=f"{prefix}{joiner}{t.name}") for t in chosen]
    return chosen


def _names(value: Any) -> set[str] | None:
    if value is None:
        return None
    if isinstance(value, dict) and not value:
        return set()
    if not isinstance(value, list):
        raise DeclarationError("a toolset filter's include/exclude must be a list of tool names")
    return {str(v) for v in value}
