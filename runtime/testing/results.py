"""What ``tide test`` found: per scenario, per run, per step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from runtime.testing.gherkin import Scenario, SpecStep

if TYPE_CHECKING:
    from runtime.events import ErrorInfo, Event

StepStatus = Literal["passed", "failed", "skipped", "undefined"]
ScenarioStatus = Literal["passed", "failed", "skipped"]
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass
class Failure:
    step: SpecStep | None
    message: str
    expected: Any = None
    actual: Any = None
    has_comparison: bool = False
    suggestion: str | None = None


@dataclass
class Attempt:
    """One run of one scenario."""

    passed: bool
    duration_ms: float
    steps: list[tuple[SpecStep, StepStatus]]
    failure: Failure | None = None
    ran: bool = False
    output: Any = None
    error: ErrorInfo | None = None
    events: list[Event] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class ScenarioReport:
    scenario: Scenario
    attempts: list[Attempt] = field(default_factory=list)
    skipped: bool = False

    @property
    def status(self) -> ScenarioStatus:
        if self.skipped:
            return "skipped"
        return "passed" if self.attempts and all(a.passed for a in self.attempts) else "failed"

    @property
    def passed_runs(self) -> int:
        return sum(1 for a in self.attempts if a.passed)

    @property
    def pass_rate(self) -> float:
        return self.passed_runs / len(self.attempts) if self.attempts else 0.0

    @property
    def flaky(self) -> bool:
        return 0 < self.passed_runs < len(self.attempts)

    @property
    def duration_ms(self) -> float:
        """Mean over the runs."""
        if not self.attempts:
            return 0.0
        return sum(a.duration_ms for a in self.attempts) / len(self.attempts)

    @property
    def first_failure(self) -> Attempt | None:
        return next((a for a in self.attempts if not a.passed), None)


@dataclass
class Problem:
    """A file that could not be tested: unreadable, not a procedure, or invalid Gherkin."""

    file: str
    message: str
    line: int | None = None
    hint: str | None = None

    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class TestReport:
    scenarios: list[ScenarioReport]
    problems: list[Problem]
    files: int
    runs: int
    duration_s: float

    def count(self, status: ScenarioStatus) -> int:
        return sum(1 for s in self.scenarios if s.status == status)

    def summary(self) -> str:
        line = f"{self.count('passed')} passed, {self.count('failed')} failed"
        skipped = self.count("skipped")
        return f"{line}, {skipped} skipped" if skipped else line

    @property
    def exit_code(self) -> int:
        if self.problems:
            return EXIT_USAGE
        return EXIT_FAILED if self.count("failed") else EXIT_OK
