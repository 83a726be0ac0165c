"""``validate_source``: problems found without running, each with a line, a column and a hint."""

from __future__ import annotations

import pytest

from runtime.validate import Diagnostic, validate_source
from tests.helpers import source


def diagnostics(text: str) -> list[Diagnostic]:
    return validate_source(source(text)).diagnostics


def test_a_good_procedure_is_valid() -> None:
    text = """
writer = Agent { model = "openai/gpt-4o-mini", system_prompt = "Write." }
Procedure {
  input = { topic = field.string{ required = true } },
  output = { story = field.string{} },
  function(input) return { story = writer(input.topic).output } end
}
"""
    report = validate_source(source(text))
    assert report.ok
    assert report.diagnostics == []
    assert report.info is not None
    described = report.describe()
    assert described["ok"] is True
    assert described["procedure"]["agents"] == [{"name": "writer", "model": "openai/gpt-4o-mini"}]
    assert described["procedure"]["inputs"][0]["name"] == "topic"


def test_undefined_agent_call_suggests_the_close_name() -> None:
    text = """writer = Agent { model = "m/x" }
Procedure {
  function(input)
    return { r = writter({ message = "x" }).output }
  end
}
"""
    report = validate_source(source(text))
    assert not report.ok
    (problem,) = report.diagnostics
    assert problem.severity == "error"
    assert problem.message == "'writter' is called but never defined"
    assert (problem.line, problem.column) == (4, 18)
    assert problem.hint == "did you mean 'writer'?"
    assert str(problem).startswith("proc.tac:4:18: error: 'writter' is called but never defined")


def test_undefined_call_without_a_close_name() -> None:
    (problem,) = diagnostics("Procedure { function(input) return zzz() end }\n")
    assert problem.hint == "define it before calling it"


def test_unknown_agent_key_suggests_the_known_one() -> None:
    (problem,) = diagnostics(
        'writer = Agent { modle = "m/x" }\nProcedure { function(input) return {} end }\n'
    )
    assert problem.severity == "error"
    assert problem.message == "unknown agent key 'modle'"
    assert problem.hint == "did you mean 'model'?"
    assert problem.line == 1


def test_field_type_typo() -> None:
    text = "Procedure {\n  input = { topic = field.strin{ required = true } },\n  function(input) return {} end\n}\n"
    (problem,) = diagnostics(text)
    assert problem.line == 2
    assert "unknown field type 'field.strin'" in problem.message
    assert "string, number, integer, boolean, array, object" in problem.message


def test_syntax_error() -> None:
    (problem,) = diagnostics("Procedure {\n  function(input)\n    return {\n  end\n}\n")
    assert problem.severity == "error"
    assert problem.line == 4
    assert "unexpected symbol" in problem.message


def test_missing_function() -> None:
    (problem,) = diagnostics("Procedure { input = {} }\n")
    assert problem.message == "the Procedure has no function"
    assert problem.hint is not None and "function(input)" in problem.hint


def test_no_procedure_at_all() -> None:
    (problem,) = diagnostics('writer = Agent { model = "m/x" }\n')
    assert "declares no procedure" in problem.message


def test_warnings_do_not_make_a_file_invalid() -> None:
    text = "writer = Agent { toolsets = {} }\nProcedure { function(input) return {} end }\n"
    report = validate_source(source(text))
    assert report.ok
    messages = [(d.severity, d.message) for d in report.diagnostics]
    assert messages == [
        ("warning", "agent key 'toolsets' is accepted but not used by Tide"),
        ("warning", "agent 'writer' has no model"),
    ]


def test_specification_errors_point_at_the_line_in_the_file() -> None:
    text = """Procedure { function(input) return {} end }
Specification([[
Feature: Greeting
  Scenario: hello
    Given the procedure has started
  this is not gherkin
]])
"""
    (problem,) = diagnostics(text)
    assert problem.message.startswith("specification: ")
    assert "this is not gherkin" in problem.message
    assert (problem.line, problem.column) == (6, 3)


def test_a_script_using_its_inputs_at_the_top_level_is_valid() -> None:
    text = """input { topic = field.string{ default = "tides" } }
writer = Agent { model = "m/x" }
local prompt = "Write about " .. input.topic
return { story = writer(prompt).output }
"""
    report = validate_source(source(text))
    assert report.ok, report.diagnostics
    assert report.info is not None and report.info.mode == "script"


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("Procedure {\n  function(input)\n    return { x = }\n  end\n}\n", 3, 18),
        (
            'writer = Agent { modle = "openai/gpt-4o-mini" }\nProcedure { function(input) return {} end }\n',
            1,
            18,
        ),
        ("Procedure {\n  function(input)\n    local t = { a = 1 b = 2 }\n  end\n}\n", 3, 23),
    ],
)
def test_errors_point_at_their_column(text: str, line: int, column: int) -> None:
    from runtime.source import ProcedureSource
    from runtime.validate import validate_source

    report = validate_source(ProcedureSource.from_text(text, name="p.tac"))
    error = next(d for d in report.diagnostics if d.severity == "error")
    assert (error.line, error.column) == (line, column), error
