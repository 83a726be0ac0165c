"""The tools and toolsets a procedure names: each must be declared.

An agent's ``tools`` lists tools and toolsets by name (``"search"``, ``"files_read"``,
``"files"``) or filters a toolset (``{name = "files", include = {"read"}}``), and a toolset
groups tools by name. A name nothing declares fails the agent's first call, so ``tide
validate`` reports it at once, where it is written, with the closest declared name. A filter's
``include``/``exclude`` naming no tool of its toolset only offers fewer tools: a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from runtime._convert import HandleRef
from runtime.declarations import Declarations, ToolsetDecl

# Tools every procedure may name without declaring them.
BUILTIN_TOOLS = frozenset({"done"})


@dataclass(frozen=True)
class ToolProblem:
    severity: Literal["error", "warning"]
    message: str
    line: int
    column: int
    hint: str | None


def closest(name: str, known: set[str]) -> str | None:
    """The declared name ``name`` most likely meant, if any is close."""
    from rapidfuzz import fuzz, process

    found = process.extractOne(name, sorted(known), scorer=fuzz.ratio, score_cutoff=60)
    return str(found[0]) if found else None


def tool_problems(decls: Declarations, text: str) -> list[ToolProblem]:
    tools = {t.name for t in decls.tools.values() if t.name} | BUILTIN_TOOLS
    toolsets = {t.name for t in decls.toolsets.values()}
    finder = _Finder(text, tools | toolsets)
    for toolset in decls.toolsets.values():
        start = _declaration_line(text, toolset.name)
        for reference in toolset.references:
            finder.check(reference, start, f"toolset '{toolset.name}' lists")
    for agent in decls.agents.values():
        who = f"agent '{agent.name or f'agent{agent.id}'}' lists"
        for entry in agent.config.tools:
            if isinstance(entry, str):
                finder.check(entry, agent.line, who)
            elif isinstance(entry, dict):
                name = entry.get("name")
                if isinstance(name, HandleRef) and name.kind == "toolset":
                    name = decls.toolsets[name.id].name
                if isinstance(name, str) and finder.check(name, agent.line, who):
                    offered = _offered(decls, name)
                    for key in ("include", "exclude"):
                        for wanted in _listed(entry.get(key)):
                            finder.check_member(wanted, name, offered, agent.line, key)
    return finder.problems


class _Finder:
    """Checks names against the declared ones, placing each problem where the name is written."""

    def __init__(self, text: str, known: set[str]) -> None:
        self.lines = text.splitlines()
        self.text = text
        self.known = known
        self.problems: list[ToolProblem] = []

    def check(self, name: str, start: int | None, who: str) -> bool:
        """Whether ``name`` is declared; reports it when it is not."""
        if name in self.known or _declared_in_code(self.text, name):
            return True
        near = closest(name, self.known)
        hint = (
            f"did you mean '{near}'?"
            if near
            else f'declare it: {name} = Tool {{ ... }}, or Toolset "{name}" {{ ... }}'
        )
        line, column = self._where(name, start)
        message = f"{who} '{name}', which is not a declared tool or toolset"
        self.problems.append(ToolProblem("error", message, line, column, hint))
        return False

    def check_member(
        self, wanted: str, toolset: str, offered: set[str], start: int | None, key: str
    ) -> None:
        shorts = {n.removeprefix(f"{toolset}_") for n in offered}
        if wanted in offered or wanted in shorts:
            return
        near = closest(wanted, shorts | offered)
        tools = ", ".join(sorted(shorts)) or "none"
        hint = f"did you mean '{near}'?" if near else f"its tools: {tools}"
        line, column = self._where(wanted, start)
        message = f"{key} names '{wanted}', which is not a tool of '{toolset}'"
        self.problems.append(ToolProblem("warning", message, line, column, hint))

    def _where(self, name: str, start: int | None) -> tuple[int, int]:
        """The first line at or after ``start`` that quotes ``name``, and its column."""
        first = max((start or 1) - 1, 0)
        quoted = re.compile(r"""(["'])""" + re.escape(name) + r"\1")
        for index in range(first, len(self.lines)):
            found = quoted.search(self.lines[index])
            if found:
                return index + 1, found.start() + 1
        return start or 1, 1


def _offered(decls: Declarations, name: str) -> set[str]:
    """The names of the tools a filter over ``name`` (a toolset, or one tool) chooses from."""
    toolset = decls.toolset_named(name)
    return {name} if toolset is None else _member_names(decls, toolset, frozenset())


def _member_names(decls: Declarations, toolset: ToolsetDecl, seen: frozenset[int]) -> set[str]:
    if toolset.id in seen:
        return set()
    names = {decls.tools[i].name or "" for i in toolset.members}
    for reference in toolset.references:
        inner = decls.toolset_named(reference)
        if inner is None:
            names.add(reference)
        else:
            names |= _member_names(decls, inner, seen | {toolset.id})
    return names


def _listed(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _declaration_line(text: str, toolset: str) -> int | None:
    found = re.search(r"""\bToolset\s*\(?\s*(["'])""" + re.escape(toolset) + r"\1", text)
    return text.count("\n", 0, found.start()) + 1 if found else None


def _declared_in_code(text: str, name: str) -> bool:
    """A tool the file declares where inspection does not reach (inside a function)."""
    word = re.escape(name)
    return bool(
        re.search(rf"\b{word}\s*=\s*Tool(set)?\b", text)
        or re.search(rf"""\bTool(set)?\s*\(?\s*(["']){word}\2""", text)
    )
