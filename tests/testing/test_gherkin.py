from __future__ import annotations

import pytest

from runtime.testing.gherkin import SpecificationError, first_line, parse_specification

SPEC = """@feature
Feature: Greetings
  Background:
    Given the procedure has started

  @outline
  Scenario Outline: Greeting <name>
    Given the input name is "<name>"
    And the agent "echo" responds with:
      \"\"\"
      Hi <name>
      \"\"\"
    When the procedure runs
    Then the output should be "Hi <name>"
    But the output should not be "Bye"

    Examples:
      | name |
      | Ada  |

    @loud
    Examples:
      | name |
      | Bob  |

  Scenario: A table
    Given the inputs are:
      | name | value |
      | n    | 3     |
    * the procedure runs
"""


def test_outlines_expand_with_background_and_tags() -> None:
    scenarios = parse_specification(SPEC, file="greet.tac", first=10)
    assert [s.name for s in scenarios] == ["Greeting Ada", "Greeting Bob", "A table"]
    ada, bob, table = scenarios
    assert ada.feature == "Greetings"
    assert ada.tags == {"@feature", "@outline"}
    assert bob.tags == {"@feature", "@outline", "@loud"}
    assert table.tags == {"@feature"}
    assert [s.text for s in ada.steps] == [
        "the procedure has started",
        'the input name is "Ada"',
        'the agent "echo" responds with:',
        "the procedure runs",
        'the output should be "Hi Ada"',
        'the output should not be "Bye"',
    ]
    assert [s.kind for s in ada.steps] == ["given", "given", "given", "when", "then", "then"]
    assert [s.keyword for s in ada.steps] == ["Given", "Given", "And", "When", "Then", "But"]
    assert ada.steps[2].doc_string == "Hi Ada"
    assert table.steps[1].table == (("name", "value"), ("n", "3"))
    # `*` continues the previous kind.
    assert table.steps[2].kind == "given"


def test_lines_point_into_the_procedure_file() -> None:
    scenarios = parse_specification(SPEC, file="greet.tac", first=10)
    ada, bob, table = scenarios
    # Text line 4 (the background step) is file line 13 when the text starts on line 10.
    assert ada.steps[0].line == 13
    assert ada.steps[1].line == 17
    # An outline's scenarios are located at their example rows.
    assert ada.line == 10 + 19 - 1
    assert bob.line == 10 + 24 - 1
    assert table.line == 10 + 26 - 1


def test_outline_rows_with_the_same_name_are_told_apart() -> None:
    text = """Feature: F
  Scenario Outline: Same name
    Given the input topic is "<topic>"
    Examples:
      | topic |
      | a     |
      | b     |
"""
    names = [s.name for s in parse_specification(text, file="f.tac", first=1)]
    assert names == ["Same name [topic=a]", "Same name [topic=b]"]


def test_a_parse_error_names_the_file_and_line() -> None:
    text = "Feature: F\n  Scenario: S\n    Given a step\n  not a step\n"
    with pytest.raises(SpecificationError) as caught:
        parse_specification(text, file="broken.tac", first=20)
    assert caught.value.file == "broken.tac"
    assert caught.value.line == 23
    assert "not a step" in caught.value.message
    assert str(caught.value).startswith("broken.tac:23: ")


def test_first_line_finds_the_text_in_the_source() -> None:
    source = "x = 1\n\nSpecification([[\nFeature: F\n  Scenario: S\n]])\n"
    text = "Feature: F\n  Scenario: S\n"
    # The declaration is on line 3; Lua drops the newline after `[[`, so the text is on line 4.
    assert first_line(source, text, 3) == 4
    same_line = "Specification [[Feature: F\n]]\n"
    assert first_line(same_line, "Feature: F\n", 1) == 1
    # Text that does not appear verbatim (escapes in a quoted string) falls back to the line.
    assert first_line('Specification("Feature: F\\n")\n', "Feature: F\n", 1) == 1


def test_empty_specification_has_no_scenarios() -> None:
    assert parse_specification("# nothing yet\n", file="f.tac", first=1) == []
