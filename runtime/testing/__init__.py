"""``tide test``: run procedures' Gherkin specifications in-process, with mocks.

    report = await run_tests(["procedures/"], TestOptions(tags="@fast"))
    print(report.summary())

Each scenario runs in a fresh sandboxed run of its procedure; see ``runner`` for how agents,
tools and humans are answered, ``steps`` and ``assertions`` for the step library, and
``custom`` for steps a procedure defines with ``Step(...)``.
"""

from runtime.testing.results import Attempt, Failure, Problem, ScenarioReport, TestReport
from runtime.testing.runner import TestOptions, collect_files, run_tests

__all__ = [
    "Attempt",
    "Failure",
    "Problem",
    "ScenarioReport",
    "TestOptions",
    "TestReport",
    "collect_files",
    "run_tests",
]
