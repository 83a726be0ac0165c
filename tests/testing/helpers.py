"""Helpers shared by the ``tide test`` tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from runtime.testing import TestOptions, TestReport, run_tests

FIXTURES = Path(__file__).parent / "fixtures"


def run(*paths: str | Path, **options: Any) -> TestReport:
    """Run specifications in-process, as ``tide test`` does."""
    return anyio.run(lambda: run_tests([str(p) for p in paths], TestOptions(**options)))


def by_name(report: TestReport) -> dict[str, Any]:
    return {s.scenario.name: s for s in report.scenarios}
