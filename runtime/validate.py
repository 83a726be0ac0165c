"""Checking a procedure without running it: every problem with file, line, column and a hint."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from runtime._lint import undefined_calls
from runtime.errors import TideError
from runtime.inspect import ProcedureInfo, inspect_procedure
from runtime.library import GLOBALS as LIBRARY_GLOBALS
from runtime.library.lint import misuses as library_misuses
from runtime.source import ProcedureSource

Severity = Literal["error", "warning"]

# Every global the sandbox gives procedure code.
SANDBOX_GLOBALS = frozenset(
    [
        "assert",
        "error",
        "ipairs",
        "next",
        "pairs",
        "rawequal",
        "rawget",
        "rawlen",
        "rawset",
        "select",
        "setmetatable",
        "getmetatable",
        "tonumber",
        "tostring",
        "type",
        "_VERSION",
        "pcall",
        "xpcall",
        "coroutine",
        "string",
        "table",
        "math",
        "utf8",
        "_G",
        "print",
        "field",
        "input",
        "output",
        "Log",
        "State",
        "Human",
        "Json",
        "unpack",
        "state",
        "Agent",
        "Tool",
        "Procedure",
        "Mocks",
        "Specification",
        "Specifications",
        "Step",
        "require",
        "Model",
        "Classify",
        "Evaluation",
        "Evaluations",
        *LIBRARY_GLOBALS,
    ]
)


@dataclass
class Diagnostic:
    severity: Severity
    message: str
    line: int = 1
    column: int = 1
    hint: str | None = None
    file: str | None = None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "severity": self.severity,
            "message": self.message,
            "line": self.line,
            "column": self.column,
        }
        if self.hint:
            out["hint"] = self.hint
        return out

    def __str__(self) -> str:
        hint = f"\n  hint: {self.hint}" if self.hint else ""
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}{hint}"


@dataclass
class ValidationReport:
    source: ProcedureSource
    diagnostics: list[Diagnostic] = field(default_factory=list)
    info: ProcedureInfo | None = None

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    def describe(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "diagnostics": [d.describe() for d in self.diagnostics],
            "procedure": self.info.describe() if self.info else None,
        }


_QUOTED = re.compile(r"'([^'\n]{1,80})'")


def column_of(text: str, line: int | None, message: str) -> int:
    """Where on ``line`` the error is, from what its message quotes: Lua's "near 'x'", the
    checker's "unknown key 'x'" and the like; else the line's first character."""
    lines = text.splitlines()
    if line is None or not 1 <= line <= len(lines):
        return 1
    row = lines[line - 1]
    if "near <eof>" in message or "near '<eof>'" in message:
        return len(row.rstrip()) + 1
    near = re.search(r"near '([^'\n]+)'", message)
    quoted = [near.group(1)] if near else []
    quoted += _QUOTED.findall(message)
    for token in quoted:
        found = row.find(token)
        if found >= 0:
            return found + 1
    indent = len(row) - len(row.lstrip())
    return indent + 1


def validate_source(source: ProcedureSource, *, timeout_s: float = 10.0) -> ValidationReport:
    report = ValidationReport(source)
    name = source.display_name

    def add(
        severity: Severity, message: str, line: int | None, column: int = 1, hint: str | None = None
    ) -> None:
        report.diagnostics.append(Diagnostic(severity, message, line or 1, column, hint, name))

    for problem in undefined_calls(source.text, SANDBOX_GLOBALS):
        hint = (
            f"did you mean '{problem.suggestion}'?"
            if problem.suggestion
            else "define it before calling it"
        )
        add(
            "error",
            f"'{problem.name}' is called but never defined",
            problem.line,
            problem.column,
            hint,
        )
    for misuse in library_misuses(source.text):
        add("error", misuse.message, misuse.line, misuse.column, misuse.hint)
    try:
        report.info = inspect_procedure(source, timeout_s=timeout_s)
    except TideError as exc:
        add("error", exc.message, exc.line, column_of(source.text, exc.line, exc.message), exc.hint)
        return report
    info = report.info
    for message, _file, line in info.warnings:
        add("warning", message, line)
    for named in info.tool_problems:
        add(named.severity, named.message, named.line, named.column, named.hint)
    for agent in info.agents:
        if agent.model is None:
            add(
                "warning",
                f"agent '{agent.name}' has no model",
                agent.line,
                hint='set model = "provider/model", or run with --model',
            )
    for text, line in info.specifications:
        first = _first_line(source.text, text, line)
        for message, offset, column in _gherkin_errors(text):
            add("error", f"specification: {message}", first + offset, column)
    return report


def _first_line(source: str, text: str, fallback: int | None) -> int:
    """The line where a specification's text starts: ``Specification([[`` is usually a line
    above it (Lua drops the newline right after ``[[``)."""
    at = source.find(text) if text.strip() else -1
    return source.count("\n", 0, at) + 1 if at >= 0 else (fallback or 1)


def _gherkin_errors(text: str) -> list[tuple[str, int, int]]:
    """Gherkin parse errors as (message, line offset within the text, column)."""
    from gherkin.errors import CompositeParserException, ParserException
    from gherkin.parser import Parser

    try:
        Parser().parse(text)
    except CompositeParserException as exc:
        return [_gherkin_error(e) for e in exc.errors]
    except ParserException as exc:
        return [_gherkin_error(exc)]
    return []


def _gherkin_error(exc: Any) -> tuple[str, int, int]:
    location = getattr(exc, "location", None) or {}
    line = int(location.get("line") or 1)
    message = str(exc).split(": ", 1)[-1]
    return message, line - 1, int(location.get("column") or 1)
