from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runtime.testing.report import comparison

from .helpers import FIXTURES, by_name, run

TACTUS_FIXTURES = [
    "done_loop.tac",
    "per_turn_tools.tac",
    "greeter.tac",
    "fuzzy.tac",
    "complete_specs.tac",
    "tools.tac",
    "outline_tags.tac",
    "human.tac",
    "structured.tac",
]


@pytest.mark.parametrize("name", TACTUS_FIXTURES)
def test_tactus_style_fixtures_pass(name: str) -> None:
    report = run(FIXTURES / name)
    failures = {
        s.scenario.name: s.first_failure.failure.message
        for s in report.scenarios
        if s.first_failure and s.first_failure.failure
    }
    assert failures == {}
    assert report.problems == []
    assert report.count("passed") >= 1
    assert report.exit_code == 0


def test_a_failing_scenario_explains_itself() -> None:
    report = run(FIXTURES / "failing.tac")
    scenarios = by_name(report)
    wrong = scenarios["Wrong value"].first_failure
    assert wrong is not None and wrong.failure is not None
    failure = wrong.failure
    assert failure.step is not None
    assert failure.step.display() == 'Then the output poem should be "Violets are blue"'
    assert failure.step.line == 19
    assert failure.expected == "Violets are blue"
    assert failure.actual == "Roses are red"
    assert comparison(failure) == ['expected: "Violets are blue"', 'actual:   "Roses are red"']
    assert wrong.output == {"poem": "Roses are red"}
    assert [status for _, status in wrong.steps] == ["passed", "passed", "failed"]

    long = scenarios["Long text differs"].first_failure
    assert long is not None and long.failure is not None
    diff = comparison(long.failure)
    assert diff[:2] == ["--- expected", "+++ actual"]
    assert "-the sky is blue" in diff and "+the sky is grey" in diff
    assert report.summary() == "0 passed, 3 failed"
    assert report.exit_code == 1


def test_an_undefined_step_suggests_the_closest_phrasing() -> None:
    report = run(FIXTURES / "failing.tac")
    typo = by_name(report)["A typo in a step"].first_failure
    assert typo is not None and typo.failure is not None
    assert typo.failure.message == "undefined step: Then the output poem shuold exist"
    assert typo.failure.suggestion == "the output summary should exist"
    # Nothing runs when a step is undefined.
    assert not typo.ran
    assert [status for _, status in typo.steps] == ["skipped", "undefined"]


def test_a_specification_parse_error_is_a_usage_error() -> None:
    report = run(FIXTURES / "bad_gherkin.tac", FIXTURES / "human.tac")
    assert len(report.problems) == 1
    problem = report.problems[0]
    assert problem.file.endswith("bad_gherkin.tac")
    assert problem.line == 9
    assert "This line is not a step" in problem.message
    # The other file still runs.
    assert report.count("passed") == 2
    assert report.exit_code == 2


def test_tags_and_names_select_scenarios() -> None:
    report = run(FIXTURES / "outline_tags.tac", tags="@fast and not @slow")
    assert sorted(by_name(report)) == ["Greeting Ada", "Greeting Bob", "Inputs from a table"]
    report = run(FIXTURES / "outline_tags.tac", tags="@greeting and not @fast")
    assert sorted(by_name(report)) == ["A doc string reply", "Not ready yet"]
    assert report.summary() == "1 passed, 0 failed, 1 skipped"
    report = run(FIXTURES / "outline_tags.tac", name="table")
    assert list(by_name(report)) == ["Inputs from a table"]


CUSTOM = """
counter = Agent { model = "openai/gpt-4o-mini", system_prompt = "count" }

Procedure {
  input = { n = field.integer{default = 2} },
  function(input)
    counter()
    state.total = input.n * 10
    return { total = state.total }
  end
}

Step("the total is sensible", function(ctx)
  assert(ctx.output.total == state.total, "output and state disagree")
  assert(ctx.tool_calls ~= nil and ctx.agent_turns.counter == 1, "one turn")
end)
Step([[the total is (\\d+)]], function(ctx, n)
  if ctx.output.total ~= tonumber(n) then error("total is " .. ctx.output.total) end
end)
Step("the counter was asked first", function(ctx)
  return counter.history()[1].content == "Count to ten"
end)
Step("nothing is wrong", function(ctx) return false end)

Specification([[
Feature: Custom steps
  Scenario: passing
    Given the input n is 3
    When the procedure runs
    Then the total is sensible
    And the total is 30
    And THE TOTAL IS 30

  Scenario: error
    When the procedure runs
    Then the total is 99

  Scenario: false
    When the procedure runs
    Then nothing is wrong

  Scenario: message
    Given the message is "Count to ten"
    When the procedure runs
    Then the counter was asked first
]])
"""


def test_custom_steps(write: Callable[[str], Path]) -> None:
    report = run(write(CUSTOM))
    scenarios = by_name(report)
    assert scenarios["passing"].status == "passed"
    assert scenarios["message"].status == "passed"
    error = scenarios["error"].first_failure
    assert error is not None and error.failure is not None
    assert "total is 20" in error.failure.message
    assert "line 18" in error.failure.message
    false = scenarios["false"].first_failure
    assert false is not None and false.failure is not None
    assert false.failure.message == "custom step returned false"


AGENT_IN_A_STEP = """
lookup = Tool { description = "Look up a word", input = { word = field.string{} },
  function(args) return "defined: " .. args.word end }
teller = Agent { model = "openai/gpt-4o-mini", system_prompt = "Tell.", tools = { lookup } }
Procedure { function(input) return { first = teller("opening").output } end }

Step([[the teller answers "(.+)" with "(.+)"]], function(ctx, asked, expected)
  local reply = teller({ message = asked })
  assert(reply.output == expected, "got " .. tostring(reply.output))
end)
Step("the teller looked a word up", function(ctx)
  assert(lookup.call_count() == 1, "calls: " .. lookup.call_count())
  assert(lookup.last_result() == "defined: tide")
end)

Mocks {
  teller = { temporal = {
    { message = "first turn" },
    { message = "second turn", tool_calls = { { tool = "lookup", args = { word = "tide" } } } },
    { when_message = "what is a tide?", message = "water rising" },
  } },
}

Specification([[
Feature: Agents in custom steps
  Scenario: mocks answer after the run
    When the procedure runs
    Then the output first should be "first turn"
    And the teller answers "anything" with "second turn"
    And the teller looked a word up
    And the teller answers "what is a tide?" with "water rising"
]])
"""


def test_custom_steps_call_agents_answered_from_mocks(write: Callable[[str], Path]) -> None:
    report = run(write(AGENT_IN_A_STEP))
    (scenario,) = report.scenarios
    failure = scenario.first_failure
    assert scenario.status == "passed", failure and failure.failure and failure.failure.message


ISOLATION = """
Procedure {
  input = { tag = field.string{required = true} },
  function(input)
    State.append("seen", input.tag)
    state.mine = input.tag
    return { seen = State.get("seen") }
  end
}

Specification([[
Feature: Isolation
  Scenario Outline: Scenario <tag> sees only its own state
    Given the input tag is "<tag>"
    When the procedure runs
    Then the state mine should be "<tag>"
    And the state seen should be ["<tag>"]
    And the output seen should be ["<tag>"]

    Examples:
      | tag |
%s
]])
"""


def test_parallel_scenarios_do_not_share_state(write: Callable[[str], Path]) -> None:
    rows = "\n".join(f"      | t{i} |" for i in range(24))
    report = run(write(ISOLATION % rows), workers=8)
    assert report.count("passed") == 24
    assert report.exit_code == 0


FLAKY = """
Procedure {
  function(input) return { coin = math.random(1, 2) } end
}

Specification([[
Feature: Coin
  Scenario: Heads
    When the procedure runs
    Then the output coin should be 1

  Scenario: Always
    When the procedure runs
    Then the output coin should be less than 3
]])
"""


def test_runs_report_pass_rate_and_flakiness(write: Callable[[str], Path]) -> None:
    report = run(write(FLAKY), runs=40)
    heads, always = by_name(report)["Heads"], by_name(report)["Always"]
    assert len(heads.attempts) == 40
    assert heads.flaky and 0 < heads.pass_rate < 1
    assert heads.status == "failed"
    assert always.pass_rate == 1.0 and not always.flaky
    assert report.summary() == "1 passed, 1 failed"


MISTAKES = """
worker = Agent { model = "openai/gpt-4o-mini", system_prompt = "x" }

Procedure {
  input = { n = field.integer{required = true} },
  function(input)
    worker()
    if input.n < 0 then while true do end end
    return { n = input.n }
  end
}

Specification([[
Feature: Mistakes
  Scenario: setup after the run
    Given the input n is 1
    When the procedure runs
    And the agent "worker" responds with "too late"

  Scenario: unknown agent
    Given the agent "nobody" responds with "x"

  Scenario: missing input
    When the procedure runs
    Then the procedure should fail with "n"

  Scenario: endless loop
    Given the input n is -1
    When the procedure runs
    Then the procedure should fail with "ran out of time"
]])
"""


def test_mistakes_in_scenarios(write: Callable[[str], Path]) -> None:
    report = run(write(MISTAKES), timeout_s=0.5)
    scenarios = by_name(report)
    late = scenarios["setup after the run"].first_failure
    assert late is not None and late.failure is not None
    assert "move it before the When step" in late.failure.message
    unknown = scenarios["unknown agent"].first_failure
    assert unknown is not None and unknown.failure is not None
    assert (
        unknown.failure.message == "the procedure declares no agent named 'nobody' (agents: worker)"
    )
    assert scenarios["missing input"].status == "passed"
    assert scenarios["endless loop"].status == "passed"
    assert scenarios["endless loop"].duration_ms < 5000


def test_a_folder_holds_only_procedures_with_specifications(tmp_path: Path) -> None:
    (tmp_path / "module.tac").write_text("return { helper = 1 }\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "p.tac").write_text(
        "Procedure { function() return {} end }\nSpecification([[\nFeature: F\n"
        "  Scenario: S\n    When the procedure runs\n"
        "    Then the procedure should complete successfully\n]])\n"
    )
    report = run(tmp_path)
    assert report.files == 1
    assert report.summary() == "1 passed, 0 failed"


REAL = """
writer = Agent { model = "openai/gpt-4o-mini", system_prompt = "Write one line." }

Mocks { writer = { message = "from the mock" } }

Procedure {
  function(input) return { line = writer("Write a line").response } end
}

Specification([[
Feature: Real models
  Scenario: The model answers, not the mocks
    Given the agent "writer" responds with "from the scenario"
    When the procedure runs
    Then the procedure should complete successfully
    And the output line should be complete
    And the output line should not be "from the scenario"
    And the output line should not be "from the mock"
    And the writer agent should take 1 turn
]])
"""


def test_real_runs_call_the_model(write: Callable[[str], Path]) -> None:
    # The scripted model server stands in for a provider: no credentials, no network.
    report = run(write(REAL), real=True, model="scripted/default")
    assert report.summary() == "1 passed, 0 failed", report.scenarios[0].first_failure
