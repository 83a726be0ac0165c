"""Tactus-style procedures with their own specifications: every scenario passes on Tide."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testing.helpers import run

HERE = Path(__file__).parent
PROCEDURES = sorted(HERE.glob("*.tac"))


@pytest.mark.parametrize("path", PROCEDURES, ids=[p.stem for p in PROCEDURES])
def test_every_scenario_passes(path: Path) -> None:
    report = run(path)
    assert not report.problems, report.problems
    assert report.scenarios, "the file has no scenarios"
    failed = [
        (s.scenario.name, s.first_failure.failure.message)
        for s in report.scenarios
        if s.status != "passed" and s.first_failure and s.first_failure.failure
    ]
    assert not failed
    assert all(s.status == "passed" for s in report.scenarios)
