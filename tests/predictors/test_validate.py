"""tide validate knows Model, Classify, Evaluation(s) and reports their misuse with a line."""

from __future__ import annotations

from runtime.validate import validate_source
from tests.helpers import source


def test_new_globals_are_known() -> None:
    report = validate_source(
        source(
            """
m = Model { type = "mock", value = 1 }
c = Classify { method = "fuzzy", classes = {"a", "b"} }
Evaluation { runs = 2 }
Evaluations { dataset = { { name = "x", inputs = {} } }, evaluators = { field.equals_expected{} } }
Procedure { function() return { v = m({}).output, k = c("a").value } end }
"""
        )
    )
    assert report.ok, [str(d) for d in report.diagnostics]


def test_misuse_is_an_error_with_a_line() -> None:
    report = validate_source(
        source('Procedure { function() return {} end }\n\n\nm = Model { type = "http" }\n')
    )
    assert not report.ok
    [diagnostic] = report.diagnostics
    assert diagnostic.line == 4 and "endpoint" in diagnostic.message


def test_unused_model_keys_are_warnings() -> None:
    report = validate_source(
        source('m = Model { type = "mock", value = 1, endpoint = "x" }\nreturn {}\n')
    )
    assert report.ok
    assert [d.message for d in report.diagnostics] == [
        "model key 'endpoint' is not used by mock models"
    ]
