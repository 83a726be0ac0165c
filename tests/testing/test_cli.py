"""``tide test`` as a user runs it: a subprocess, its output and exit status."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from .helpers import FIXTURES

ROOT = Path(__file__).resolve().parents[2]


def tide_test(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runtime", "test", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_passing_file_exits_0_with_a_line_per_scenario() -> None:
    done = tide_test(FIXTURES / "done_loop.tac")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.strip().startswith("✓ Done loop / The worker finishes (") for line in lines)
    assert lines[-1] == "2 passed, 0 failed"
    # Not a terminal: no colour codes.
    assert "\x1b[" not in done.stdout


def test_failures_exit_1_and_show_expected_and_actual() -> None:
    done = tide_test(FIXTURES / "failing.tac", "-v")
    assert done.returncode == 1
    out = done.stdout
    assert "✗ Failing on purpose / Wrong value" in out
    assert 'Then the output poem should be "Violets are blue" (line 19)' in out
    assert 'expected: "Violets are blue"' in out
    assert 'actual:   "Roses are red"' in out
    assert "-the sky is blue" in out and "+the sky is grey" in out
    assert "did you mean: the output summary should exist" in out
    assert 'output: {"poem": "Roses are red"}' in out
    # -v shows the scenario's events.
    assert "run_completed" in out and "agent_turn" in out
    assert out.splitlines()[-1] == "0 passed, 3 failed"


def test_parse_errors_and_bad_usage_exit_2() -> None:
    done = tide_test(FIXTURES / "bad_gherkin.tac")
    assert done.returncode == 2
    assert "bad_gherkin.tac:9: invalid specification" in done.stdout
    missing = tide_test("no/such/dir")
    assert missing.returncode == 2
    assert "no such file or folder" in missing.stderr
    tags = tide_test(FIXTURES / "human.tac", "--tags", "@a and")
    assert tags.returncode == 2
    assert "invalid tag expression" in tags.stderr


def test_junit_and_json(tmp_path: Path) -> None:
    junit = tmp_path / "out" / "junit.xml"
    done = tide_test(FIXTURES / "failing.tac", FIXTURES / "human.tac", "--json", "--junit", junit)
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert data["summary"] == "2 passed, 3 failed"
    assert (data["passed"], data["failed"], data["exit_code"]) == (2, 3, 1)
    wrong = next(s for s in data["scenarios"] if s["name"] == "Wrong value")
    assert wrong["status"] == "failed"
    assert wrong["failure"]["expected"] == "Violets are blue"
    assert wrong["failure"]["actual"] == "Roses are red"
    assert wrong["failure"]["line"] == 19
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures")) == ("5", "3")
    cases = {c.get("name"): c for c in root.iter("testcase")}
    failure = cases["Wrong value"].find("failure")
    assert failure is not None
    assert "expected" in (failure.text or "")
    assert cases["Mock answers by default"].find("failure") is None


def test_runs_report_pass_rates() -> None:
    done = tide_test(FIXTURES / "human.tac", "--runs", "3", "--workers", "2")
    assert done.returncode == 0
    assert "3/3 runs passed (100%)" in done.stdout
    assert "0 flaky scenarios" in done.stdout
    assert done.stdout.splitlines()[-1] == "2 passed, 0 failed"


def test_list_steps_and_missing_paths() -> None:
    listed = tide_test("--list-steps")
    assert listed.returncode == 0
    assert 'Given the agent "writer" responds with "A draft"' in listed.stdout
    assert "Then  the done tool should be called" in listed.stdout
    empty = tide_test()
    assert empty.returncode == 2


PARAMS = """
Procedure {
  input = { skip = field.boolean{ default = false }, rounds = field.integer{ default = 1 } },
  function(input) return { skip = input.skip, rounds = input.rounds } end
}
Specification([[
Feature: Params
  Scenario: from the command line
    When the procedure runs
    Then the output skip should be true
    And the output rounds should be 3
  Scenario: a Given step wins
    Given the input rounds is 5
    When the procedure runs
    Then the output rounds should be 5
]])
"""


def test_params_are_every_scenarios_inputs(tmp_path: Path) -> None:
    path = tmp_path / "params.tac"
    path.write_text(PARAMS)
    done = tide_test(path, "--param", "skip=true", "-p", "rounds=3", "--param", "other=x")
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tide_test(path, "--param", "rounds=many")
    assert bad.returncode == 2 and "rounds" in bad.stdout + bad.stderr
    usage = tide_test(path, "--param", "rounds")
    assert usage.returncode == 2 and "NAME=VALUE" in usage.stderr
