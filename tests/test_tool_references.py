"""``tide validate``: every tool and toolset an agent (or a toolset) names must be declared."""

from __future__ import annotations

from runtime.validate import Diagnostic, validate_source
from tests.helpers import source

TOOLS = """search = Tool { description = "Search", function(args) return "x" end }
Toolset "files" { tools = {
  { name = "read", handler = function(args) return "r" end },
  { name = "write", handler = function(args) return "w" end },
} }
Toolset "team" { tools = { "search", "files", "fecth" } }
helper = Agent {
  model = "m/x",
  inline_tools = { { name = "note", handler = function(args) return "n" end } },
}
writer = Agent {
  model = "m/x",
  tools = { "serach", "files_read", "done", "helper_note", search,
            { name = "files", include = { "read", "wirte" }, prefix = "fs" },
            { name = "flies", exclude = { "write" } }, "team" },
}
Procedure { function(input) return {} end }
"""


def problems(text: str) -> list[Diagnostic]:
    return validate_source(source(text)).diagnostics


def test_names_nothing_declares_are_errors_where_written_with_the_closest_name() -> None:
    found = {(d.severity, d.line, d.column, d.message, d.hint) for d in problems(TOOLS)}
    assert found == {
        (
            "error", 6, 47,
            "toolset 'team' lists 'fecth', which is not a declared tool or toolset",
            'declare it: fecth = Tool { ... }, or Toolset "fecth" { ... }',
        ),
        (
            "error", 13, 13,
            "agent 'writer' lists 'serach', which is not a declared tool or toolset",
            "did you mean 'search'?",
        ),
        (
            "warning", 14, 51, "include names 'wirte', which is not a tool of 'files'",
            "did you mean 'write'?",
        ),
        (
            "error", 15, 22,
            "agent 'writer' lists 'flies', which is not a declared tool or toolset",
            "did you mean 'files'?",
        ),
    }  # fmt: skip
    team = next(d for d in problems(TOOLS) if "fecth" in d.message)
    assert str(team).startswith("proc.tac:6:47: error:")


def test_declared_names_and_tools_declared_inside_functions_pass() -> None:
    text = """
writer = Agent { model = "m/x", tools = { "later", "files_read", { name = "files", include = {"files_read"} } } }
Toolset "files" { tools = { { name = "read", handler = function(args) return "r" end } } }
Procedure {
  function(input)
    later = Tool { function(args) return 1 end }
    return {}
  end
}
"""
    assert problems(text) == []
