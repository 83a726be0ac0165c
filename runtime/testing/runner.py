"""Running specifications: every scenario in a fresh sandboxed run of its procedure, all in this
process, several at once.

Agents answer from the scenario's Given steps, else the procedure's ``Mocks {}``, else with
"Mocked response from <agent>" (or placeholder data for a declared output): in test mode agents
are always mocked, unless ``real`` is set. ``Human.*`` questions get mock answers.
"""

from __future__ import annotations

import inspect as _inspect
import os
import re
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from runtime.api import Runtime
from runtime.config import RuntimeConfig
from runtime.errors import ProcedureLoadError, TideError
from runtime.fields import coerce_inputs
from runtime.human import HumanResponder
from runtime.inspect import ProcedureInfo, inspect_procedure
from runtime.run import Run, RunResult
from runtime.source import ProcedureSource
from runtime.testing import assertions as _assertions  # noqa: F401  (registers the Then steps)
from runtime.testing import calls as _calls  # noqa: F401
from runtime.testing import matching as _matching  # noqa: F401
from runtime.testing.custom import CustomStep, find_custom, run_custom_step
from runtime.testing.gherkin import Scenario, SpecStep, first_line, parse_specification
from runtime.testing.results import (
    Attempt,
    Failure,
    Problem,
    ScenarioReport,
    StepStatus,
    TestReport,
)
from runtime.testing.steps import (
    Outcome,
    ScenarioContext,
    ScenarioSetup,
    StepDef,
    StepFailure,
    find_step,
    phrasebook,
    suggest,
)
from runtime.testing.tags import parse_tags

if TYPE_CHECKING:
    from runtime.declarations import AgentDecl
    from runtime.events import Event

MOCK_TIMEOUT_S = 30.0
REAL_TIMEOUT_S = 300.0
SKIP_TAGS = frozenset({"@skip", "@ignore"})
_IGNORED_DIRS = frozenset({"node_modules", "__pycache__"})


@dataclass
class TestOptions:
    tags: str | None = None
    name: str | None = None
    workers: int | None = None
    # None: each file's Evaluation { runs = N }, else 1.
    runs: int | None = None
    real: bool = False
    model: str | None = None
    timeout_s: float | None = None
    # ``--param NAME=VALUE``: inputs of every scenario (its Given steps win), as text.
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Suite:
    """One procedure file and its scenarios."""

    source: ProcedureSource
    info: ProcedureInfo
    scenarios: list[Scenario]
    custom: list[CustomStep] = field(default_factory=list)
    # The ``--param`` values this file declares as inputs, converted to their types.
    params: dict[str, Any] = field(default_factory=dict)


ScenarioCallback = Callable[[ScenarioReport], None]


def list_steps() -> list[tuple[str, str]]:
    """(kind, example) for every built-in step."""
    return phrasebook()


# -- finding and loading procedures --------------------------------------------------------------


def collect_files(paths: list[str]) -> list[Path]:
    """Procedure files: those named, and every ``.tac`` with a specification under a folder."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for candidate in sorted(path.rglob("*.tac")):
                parts = candidate.relative_to(path).parts
                if any(p.startswith(".") or p in _IGNORED_DIRS for p in parts[:-1]):
                    continue
                # Modules and procedures without specifications are not test files.
                if "Specification" in candidate.read_text(encoding="utf-8", errors="replace"):
                    files.append(candidate)
        elif path.exists():
            files.append(path)
        else:
            raise ProcedureLoadError(f"{raw}: no such file or folder")
    unique: dict[Path, Path] = {}
    for file in files:
        unique.setdefault(file.resolve(), file)
    return list(unique.values())


async def load_suite(path: Path, runtime: Runtime, options: TestOptions) -> Suite | Problem:
    try:
        source = ProcedureSource.from_path(path)
    except TideError as exc:
        return Problem(str(path), exc.message, None, exc.hint)
    try:
        info = await anyio.to_thread.run_sync(
            partial(inspect_procedure, source, timeout_s=runtime.config.inspect_timeout_s),
            limiter=runtime.limiter,
        )
        scenarios: list[Scenario] = []
        for text, line in info.specifications:
            start = first_line(source.text, text, line)
            scenarios.extend(parse_specification(text, file=source.display_name, first=start))
        if options.real:
            await runtime.check_models(info, options.model)
        given = {k: v for k, v in options.params.items() if k in info.inputs or not info.inputs}
        fields = {k: info.inputs[k] for k in given}
        params = {
            k: v for k, v in coerce_inputs(fields, given, from_strings=True).items() if k in given
        }
    except TideError as exc:
        return Problem(exc.file or source.display_name, exc.message, exc.line, exc.hint)
    return Suite(source, info, scenarios, [CustomStep.of(text) for text in info.steps], params)


# -- one scenario --------------------------------------------------------------------------------


class ScenarioRun(Run):
    """A run whose procedure was inspected once for all its scenarios, and whose first agent
    call gets the scenario's message when the procedure passes none."""

    def __init__(
        self,
        runtime: Runtime,
        suite: Suite,
        inputs: dict[str, Any],
        *,
        message: str | None,
        **options: Any,
    ) -> None:
        super().__init__(
            suite.source,
            inputs,
            router=runtime.router,
            config=runtime.config,
            limiter=runtime.limiter,
            **options,
        )
        self._known_info = suite.info
        self._first_message = message

    async def prepare(self) -> ProcedureInfo:
        if self.info is None:
            self.inputs = coerce_inputs(self._known_info.inputs, self.raw_inputs)
            self.info = self._known_info
        return self.info

    def agent_call(self, agent: AgentDecl, message: str | None, options: dict[str, Any]) -> Any:
        if self._first_message is not None:
            message = self._first_message if message is None else message
            self._first_message = None
        return super().agent_call(agent, message, options)


class _Collector:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def log(self, event: Event) -> None:
        self.events.append(event)


async def _execute(
    suite: Suite, setup: ScenarioSetup, runtime: Runtime, options: TestOptions
) -> Outcome:
    collector = _Collector()
    declared = suite.info.mocks.get("Human")
    answers = {**(declared if isinstance(declared, dict) else {}), **setup.human}
    run = ScenarioRun(
        runtime,
        suite,
        setup.inputs,
        message=setup.message,
        handlers=[collector],
        mock=not options.real,
        model=options.model,
        extra_mocks=setup.mocks(),
        human=HumanResponder(mock=True, answers=answers),
    )
    try:
        result = await run.execute()
    except TideError as exc:
        # Caught before the run started (bad inputs): the scenario may expect that failure.
        result = RunResult(run_id=run.run_id, status="failed", error=exc.info())
    return Outcome(result, collector.events, run.host)


@dataclass(frozen=True)
class _Planned:
    """A scenario step and what will perform it: a built-in step or a custom one."""

    definition: StepDef | None = None
    match: re.Match[str] | None = None
    custom: CustomStep | None = None
    groups: tuple[str, ...] = ()


def _plan(suite: Suite, scenario: Scenario) -> tuple[list[_Planned | None], Failure | None]:
    plan: list[_Planned | None] = []
    failure: Failure | None = None
    for spec_step in scenario.steps:
        custom = find_custom(suite.custom, spec_step.text)
        built_in = None if custom else find_step(spec_step)
        if custom:
            plan.append(_Planned(custom=custom[0], groups=custom[1]))
        elif built_in:
            plan.append(_Planned(definition=built_in[0], match=built_in[1]))
        else:
            plan.append(None)
            if failure is None:
                failure = Failure(
                    spec_step,
                    f"undefined step: {spec_step.display()}",
                    suggestion=suggest(spec_step.text, [c.text for c in suite.custom]),
                )
    return plan, failure


async def run_scenario(
    suite: Suite, scenario: Scenario, runtime: Runtime, options: TestOptions
) -> Attempt:
    started = time.perf_counter()
    plan, failure = _plan(suite, scenario)
    statuses: list[tuple[SpecStep, StepStatus]] = []
    if failure is not None:
        statuses = [
            (s, "undefined" if p is None else "skipped")
            for s, p in zip(scenario.steps, plan, strict=True)
        ]
        return Attempt(False, (time.perf_counter() - started) * 1000, statuses, failure)
    setup = ScenarioSetup(inputs=dict(suite.params))
    ctx = ScenarioContext(
        suite.info,
        setup,
        partial(_execute, suite, setup, runtime, options),
        limiter=runtime.limiter,
        judge=None if not options.real else partial(_judge, runtime, options),
    )
    for spec_step, planned in zip(scenario.steps, plan, strict=True):
        if failure is not None:
            statuses.append((spec_step, "skipped"))
            continue
        ctx.step = spec_step
        try:
            await _perform(ctx, planned)
            statuses.append((spec_step, "passed"))
        except StepFailure as exc:
            failure = Failure(spec_step, exc.message, exc.expected, exc.actual, exc.has_comparison)
            statuses.append((spec_step, "failed"))
        except Exception as exc:
            failure = Failure(
                spec_step, f"internal error in this step: {type(exc).__name__}: {exc}"
            )
            statuses.append((spec_step, "failed"))
    outcome = ctx.outcome
    return Attempt(
        passed=failure is None,
        duration_ms=(time.perf_counter() - started) * 1000,
        steps=statuses,
        failure=failure,
        ran=outcome is not None,
        output=outcome.result.output if outcome else None,
        error=outcome.result.error if outcome else None,
        events=outcome.events if outcome else [],
        notes=ctx.notes,
    )


async def _judge(
    runtime: Runtime, options: TestOptions, assertion: str, value: Any
) -> tuple[bool, str]:
    from runtime.evaluation.judge import judge, judge_model

    verdict = await judge(runtime, judge_model(options.model), assertion, value)
    return verdict.ok, verdict.reason


async def _perform(ctx: ScenarioContext, planned: _Planned | None) -> None:
    assert planned is not None
    if planned.custom is not None:
        if ctx.outcome is None:
            ctx.outcome = await ctx.run_procedure()
        await run_custom_step(ctx, planned.custom, planned.groups)
        return
    definition, match = planned.definition, planned.match
    assert definition is not None and match is not None
    if definition.phase == "setup" and ctx.outcome is not None:
        raise StepFailure(
            "this step sets up the run, but the procedure has already run; "
            "move it before the When step"
        )
    if definition.phase == "check" and ctx.outcome is None:
        ctx.outcome = await ctx.run_procedure()
    returned = definition.action(ctx, match)
    if _inspect.isawaitable(returned):
        await returned


# -- the whole suite -------------------------------------------------------------------------------


async def run_tests(
    paths: list[str], options: TestOptions, on_scenario: ScenarioCallback | None = None
) -> TestReport:
    """Run the specifications of the procedures at ``paths`` (files or folders).

    Raises ``TideError`` for a path that does not exist or a bad ``--tags`` expression;
    problems with single files are in the report. ``on_scenario`` sees each scenario's report
    in file order as soon as it and those before it are done."""
    started = time.perf_counter()
    tag_test = parse_tags(options.tags) if options.tags else None
    files = collect_files(paths)
    timeout = options.timeout_s or (REAL_TIMEOUT_S if options.real else MOCK_TIMEOUT_S)
    config = RuntimeConfig.from_env(streaming=False, timeout_s=timeout)
    async with Runtime(config) as runtime:
        loaded: list[Suite | Problem | None] = [None] * len(files)

        async def load(index: int, path: Path) -> None:
            loaded[index] = await load_suite(path, runtime, options)

        async with anyio.create_task_group() as group:
            for index, path in enumerate(files):
                group.start_soon(load, index, path)
        problems = [item for item in loaded if isinstance(item, Problem)]
        work: list[tuple[Suite, ScenarioReport]] = []
        for item in loaded:
            if not isinstance(item, Suite):
                continue
            for scenario in item.scenarios:
                if tag_test is not None and not tag_test(scenario.tags):
                    continue
                if options.name and options.name.lower() not in scenario.name.lower():
                    continue
                skipped = bool(SKIP_TAGS & {t.lower() for t in scenario.tags})
                work.append((item, ScenarioReport(scenario, skipped=skipped)))
        await _run_all(work, runtime, options, on_scenario)
    runs = max([suite_runs(suite, options) for suite, _ in work], default=options.runs or 1)
    return TestReport(
        scenarios=[report for _, report in work],
        problems=problems,
        files=len(files),
        runs=runs,
        duration_s=time.perf_counter() - started,
    )


def suite_runs(suite: Suite, options: TestOptions) -> int:
    """``--runs``, else the file's ``Evaluation { runs = N }``, else 1."""
    if options.runs is not None:
        return max(1, options.runs)
    declared = suite.info.evaluation
    return declared.runs if declared is not None else 1


async def _run_all(
    work: list[tuple[Suite, ScenarioReport]],
    runtime: Runtime,
    options: TestOptions,
    on_scenario: ScenarioCallback | None,
) -> None:
    limiter = anyio.CapacityLimiter(options.workers or os.cpu_count() or 4)
    attempts: list[list[Attempt | None]] = [[None] * suite_runs(s, options) for s, _ in work]
    finished = [report.skipped for _, report in work]
    reported = 0

    def report_ready() -> None:
        nonlocal reported
        while reported < len(work) and finished[reported]:
            if on_scenario is not None:
                on_scenario(work[reported][1])
            reported += 1

    # A file whose Evaluation says `parallel = false` runs its scenarios one at a time.
    serial = {
        id(suite): anyio.CapacityLimiter(1)
        for suite, _ in work
        if suite.info.evaluation is not None and not suite.info.evaluation.parallel
    }

    async def attempt(index: int, run_index: int) -> None:
        suite, report = work[index]
        own = serial.get(id(suite))
        async with own if own is not None else nullcontext(), limiter:
            result = await run_scenario(suite, report.scenario, runtime, options)
        attempts[index][run_index] = result
        if all(a is not None for a in attempts[index]):
            report.attempts = [a for a in attempts[index] if a is not None]
            finished[index] = True
            report_ready()

    report_ready()
    async with anyio.create_task_group() as group:
        for index, (_, report) in enumerate(work):
            if report.skipped:
                continue
            for run_index in range(len(attempts[index])):
                group.start_soon(attempt, index, run_index)
    report_ready()
