"""Tactus's fuzzy matching and the steps built on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.testing.matching import normalize, similarity
from runtime.testing.runner import list_steps
from tests.testing.helpers import by_name, run


def test_normalize_and_similarity() -> None:
    assert normalize("  Hello,   WORLD!! ") == "hello world"
    assert similarity("Hello, world! How are you?", "hello world") == 1.0  # contained
    assert similarity("hello", "Hello there, friend") == 1.0  # either way
    assert 0.5 < similarity("colour", "color") < 1.0
    assert similarity("abc", "xyz") == 0.0


SPEC = """
Procedure {
  output = { greeting = field.string{} },
  function()
    state.status = "Finished OK"
    return { greeting = "Hello, Ada! Nice to meet you." }
  end
}
Specification([[
Feature: matching
  Scenario: passes
    Then the output greeting should be similar to "hello ada nice to meet you"
    And the output greeting should be similar to "Hello Ada, nice meeting you" with 70% similarity
    And the state status should be similar to "finished ok"
    And the output greeting should fuzzy match any of ["Goodbye", "Hello Ada"]
    And the output greeting should match pattern "Ada!"
    And the stop reason should be ""
  Scenario: similar fails
    Then the output greeting should be similar to "Goodbye Bob" with 90% similarity
  Scenario: judged under mocks
    Then the output greeting should semantically satisfy "greets Ada"
]])
"""


def test_steps(tmp_path: Path) -> None:
    path = tmp_path / "matching.tac"
    path.write_text(SPEC)
    scenarios = by_name(run(path))
    assert scenarios["passes"].status == "passed", scenarios["passes"].first_failure
    failure = scenarios["similar fails"].first_failure
    assert failure is not None and failure.failure is not None
    assert "below the threshold 0.9" in failure.failure.message
    judged = scenarios["judged under mocks"]
    assert judged.status == "passed"
    assert judged.attempts[0].notes == ["semantic check not judged under mocks: greets Ada"]


@pytest.mark.parametrize(
    "phrase",
    [
        'the output summary should be similar to "A short story"',
        'the stop reason should contain "budget"',
        'the stop reason should match pattern "budget|limit"',
        'the search tool should be called with query matching pattern "^tide"',
        "the sentiment model predicts",
        'the output should semantically satisfy "is a polite greeting"',
    ],
)
def test_list_steps_names_them(phrase: str) -> None:
    assert phrase in [example for _, example in list_steps()]


TACTUS_FORMS = """
helper = Agent { model = "openai/gpt-4o-mini", system_prompt = "You help {input.name}." }
Procedure {
  input = { name = field.string{}, tags = field.array{} },
  output = { reply = field.string{}, count = field.number{} },
  function(input)
    local r = helper("Please greet me")
    return { reply = r.output, count = #input.tags }
  end
}
Specification([[
Feature: Tactus phrasings
  Scenario: unquoted values
    Given the input name is "Ada"
    And the input tags is [red, green, 3]
    And the agent "helper" responds with Hello there, Ada
    When the procedure runs
    Then the output reply should fuzzy match hello there ada
    And the output reply should fuzzy match any of "Goodbye", "Hello there" with threshold 0.9
    And the output count should be 3
    And the agent's context should include "You help Ada."
    And the agent context should include Please greet me
  Scenario: context that was never sent
    Given the input name is "Ada"
    Then the agent's context should include "Bob"
]])
"""


def test_tactus_phrasings(tmp_path: Path) -> None:
    path = tmp_path / "forms.tac"
    path.write_text(TACTUS_FORMS)
    scenarios = by_name(run(path))
    assert scenarios["unquoted values"].status == "passed", scenarios[
        "unquoted values"
    ].first_failure
    failure = scenarios["context that was never sent"].first_failure
    assert failure is not None and failure.failure is not None
    assert failure.failure.message == 'no agent was sent "Bob"'


STOPPING = """
Procedure {
  function()
    Stop.request("budget exhausted after 3 calls")
    return {}
  end
}
Specification([[
Feature: stop reasons
  Scenario: requested
    When the procedure runs
    Then the stop reason should be "budget exhausted after 3 calls"
    And the stop reason should contain "budget"
    And the stop reason should not contain "timeout"
    And the stop reason should match pattern "after \\d+ calls$"
  Scenario: wrong reason
    Then the stop reason should contain "timeout"
]])
"""


def test_stop_reason_steps(tmp_path: Path) -> None:
    path = tmp_path / "stopping.tac"
    path.write_text(STOPPING)
    scenarios = by_name(run(path))
    assert scenarios["requested"].status == "passed", scenarios["requested"].first_failure
    failure = scenarios["wrong reason"].first_failure
    assert failure is not None and failure.failure is not None
    assert failure.failure.message == 'the stop reason is "budget exhausted after 3 calls"'
