"""tide validate reports a misused library namespace with its line and column."""

from __future__ import annotations

from runtime.library.lint import FUNCTIONS, misuses
from runtime.sandbox import Sandbox
from runtime.validate import validate_source
from tests.helpers import source


def test_the_sandbox_offers_exactly_the_listed_functions() -> None:
    sandbox = Sandbox({})
    for namespace, functions in FUNCTIONS.items():
        chunk = sandbox.compile(
            f"local t = {{}} for k in pairs({namespace}) do t[#t + 1] = k end return t", "t.lua"
        )
        assert sorted(sandbox.call(chunk).values()) == sorted(functions), namespace


def test_misspelled_functions_are_errors_with_a_suggestion() -> None:
    text = (
        "Procedure {\n  function(input)\n    if Stop.requsted() then return {} end\n"
        '    local home = os.getenv("HOME")\n    Tool.called("x") ; Retry.with_backoff(f)\n'
        "  end\n}\n"
    )
    report = validate_source(source(text))
    problems = [(d.message, d.line, d.column, d.hint) for d in report.diagnostics]
    assert problems == [
        ("Stop.requsted does not exist", 3, 13, "did you mean Stop.requested?"),
        ("os.getenv does not exist", 4, 21, "os has: time, date, clock"),
    ]


def test_names_a_file_binds_itself_are_its_own() -> None:
    assert misuses("local os = { getenv = 1 }\nprint(os.getenv)") == []
    assert misuses("File = {}\nFile.custom = 1\nprint(File.custom)") == []
    assert misuses("x.Stop.anything()\nStop.extra = 1") == []


def test_state_keys_are_data_but_a_call_must_be_one_of_its_functions() -> None:
    text = "State.total = 1\nlocal n = State.total + State.seen\nState.icrement('total')\n"
    assert [(m.message, m.line, m.hint) for m in misuses(text)] == [
        ("State.icrement does not exist", 3, "did you mean State.increment?")
    ]
    assert misuses("State.log{ 'x' }")[0].message == "State.log does not exist"
    assert misuses("local State = {}\nState.anything()") == []
