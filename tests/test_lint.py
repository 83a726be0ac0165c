"""The static check for names that are called but never defined."""

from __future__ import annotations

from runtime._lint import tokenize, undefined_calls
from runtime.validate import SANDBOX_GLOBALS


def names(source: str) -> list[tuple[str, int, int, str | None]]:
    return [
        (p.name, p.line, p.column, p.suggestion) for p in undefined_calls(source, SANDBOX_GLOBALS)
    ]


def test_tokens_carry_lines_and_columns_and_skip_comments() -> None:
    tokens = tokenize('local x = "a" -- note\n--[[ long\ncomment ]] y = [[s\ntr]] .. 1.5e3\n')
    assert [(t.kind, t.text, t.line, t.column) for t in tokens] == [
        ("name", "local", 1, 1),
        ("name", "x", 1, 7),
        ("op", "=", 1, 9),
        ("string", '"a"', 1, 11),
        ("name", "y", 3, 12),
        ("op", "=", 3, 14),
        ("string", "[[s\ntr]]", 3, 16),
        ("op", "..", 4, 6),
        ("number", "1.5e3", 4, 9),
    ]


def test_defined_names_are_not_reported() -> None:
    source = """
local function helper() end
function global_fn() end
writer = Agent {}
local a, b = 1, 2
for i, v in ipairs({}) do v() end
local f = function(callback) callback() end
helper(); global_fn(); writer(); a(); b()
"""
    assert names(source) == []


def test_sandbox_globals_and_fields_are_not_reported() -> None:
    source = (
        'Log.info("x")\nstring.format("%d", 1)\nlocal t = {}\nt.method()\nt:other()\nrequire("x")\n'
    )
    assert names(source) == []


def test_call_forms_that_are_reported() -> None:
    source = 'writer = Agent {}\nwriter()\nwritr("x")\nwriterr { message = "x" }\nwriter_ "text"\n'
    assert names(source) == [
        ("writr", 3, 1, "writer"),
        ("writerr", 4, 1, "writer"),
        ("writer_", 5, 1, "writer"),
    ]


def test_names_in_strings_and_comments_are_ignored() -> None:
    source = '-- missing()\nlocal s = "missing()"\nlocal l = [[missing()]]\n'
    assert names(source) == []


def test_a_name_only_read_is_not_a_call() -> None:
    assert names("local x = unknown_value\nreturn x\n") == []


def test_no_suggestion_for_unrelated_names() -> None:
    assert names("zzzz()\n") == [("zzzz", 1, 1, None)]
