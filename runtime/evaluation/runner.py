"""``tide eval``: run every case of a procedure's ``Evaluations`` (``runs`` times each, in
parallel unless ``parallel = false``, each run in its own sandbox), score each run with every
evaluator, and check the thresholds."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio

from runtime.api import Runtime
from runtime.config import RuntimeConfig
from runtime.errors import DeclarationError, TideError
from runtime.evaluation.config import EvalCase, EvaluationsConfig, load_dataset_file
from runtime.evaluation.evaluators import CaseRun, Score, score
from runtime.events import ErrorInfo
from runtime.inspect import inspect_procedure
from runtime.run import RunResult
from runtime.source import ProcedureSource


@dataclass
class EvalOptions:
    mock: bool = False
    runs: int | None = None
    model: str | None = None
    timeout_s: float | None = None
    workers: int | None = None


@dataclass
class RunScore:
    """One run of one case."""

    run: int
    status: str
    output: Any
    error: ErrorInfo | None
    scores: list[tuple[str, Score]]
    cost_usd: float
    tokens: int
    duration_s: float

    @property
    def passed(self) -> bool:
        return self.status == "completed" and all(s.passed for _, s in self.scores)


@dataclass
class CaseReport:
    case: EvalCase
    runs: list[RunScore] = field(default_factory=list)

    @property
    def passed_runs(self) -> int:
        return sum(r.passed for r in self.runs)


@dataclass
class EvalReport:
    procedure: str
    evaluators: list[str]
    cases: list[CaseReport]
    thresholds: dict[str, float]
    mock: bool
    duration_s: float = 0.0
    # Evaluators, cases or thresholds the declaration had that could not be used.
    problems: list[str] = field(default_factory=list)

    @property
    def all_runs(self) -> list[RunScore]:
        return [r for c in self.cases for r in c.runs]

    @property
    def pass_rate(self) -> float:
        runs = self.all_runs
        return sum(r.passed for r in runs) / len(runs) if runs else 0.0

    def mean(self, attribute: str) -> float:
        runs = self.all_runs
        return sum(getattr(r, attribute) for r in runs) / len(runs) if runs else 0.0

    def threshold_checks(self) -> list[tuple[str, bool, str]]:
        """(threshold, met, what was measured) for every threshold set."""
        measured = {
            "min_success_rate": self.pass_rate,
            "max_cost_per_run": self.mean("cost_usd"),
            "max_duration": self.mean("duration_s"),
            "max_tokens_per_run": self.mean("tokens"),
        }
        checks = []
        for key, limit in self.thresholds.items():
            value = measured[key]
            met = value >= limit if key == "min_success_rate" else value <= limit
            checks.append((key, met, f"{value:.4g} (limit {limit:g})"))
        return checks

    @property
    def ok(self) -> bool:
        return all(met for _, met, _ in self.threshold_checks())


def load_evaluations(source: ProcedureSource, timeout_s: float) -> EvaluationsConfig:
    info = inspect_procedure(source, timeout_s=timeout_s)
    config = info.evaluations
    if config is None:
        raise DeclarationError(
            f"{source.display_name} declares no evaluations",
            hint="add Evaluations { dataset = {{ name = ..., inputs = {...} }}, evaluators = {...} }",
        )
    cases = list(config.cases)
    if config.dataset_file:
        try:
            cases = load_dataset_file(config.dataset_file, source.project_root) + cases
        except TideError as exc:
            exc.locate(config.file, config.line)
            raise
    if not cases:
        raise DeclarationError("the evaluation has no cases", file=config.file, line=config.line)
    config.cases = cases
    return config


async def run_evaluation(path: str, options: EvalOptions) -> EvalReport:
    """Raises ``TideError`` for a file that cannot be evaluated (no evaluations, bad dataset)."""
    started = time.perf_counter()
    source = ProcedureSource.load(path)
    runtime_config = RuntimeConfig.from_env(streaming=False)
    if options.timeout_s:
        runtime_config = RuntimeConfig.from_env(streaming=False, timeout_s=options.timeout_s)
    async with Runtime(runtime_config) as runtime:
        config = await anyio.to_thread.run_sync(
            partial(load_evaluations, source, runtime_config.inspect_timeout_s)
        )
        if not options.mock:
            # Imported once up front, so that the first runs' durations are the runs' own.
            await runtime.router.warm_up()
        runs = options.runs or config.runs
        parallel = (options.workers or os.cpu_count() or 4) if config.parallel else 1
        limiter = anyio.CapacityLimiter(parallel)
        scored: dict[tuple[int, int], RunScore] = {}

        async def one(case_index: int, run_index: int) -> None:
            async with limiter:
                scored[case_index, run_index] = await _run_case(
                    runtime, source, config, config.cases[case_index], run_index + 1, options
                )

        async with anyio.create_task_group() as group:
            for case_index in range(len(config.cases)):
                for run_index in range(runs):
                    group.start_soon(one, case_index, run_index)
    report = EvalReport(
        source.display_name,
        [e.label for e in config.evaluators],
        [
            CaseReport(case, [scored[i, r] for r in range(runs)])
            for i, case in enumerate(config.cases)
        ],
        config.thresholds,
        options.mock,
        problems=list(config.problems),
    )
    report.duration_s = time.perf_counter() - started
    return report


async def _run_case(
    runtime: Runtime,
    source: ProcedureSource,
    config: EvaluationsConfig,
    case: EvalCase,
    number: int,
    options: EvalOptions,
) -> RunScore:
    started = time.perf_counter()
    try:
        result = await runtime.run(source, case.inputs, mock=options.mock, model=options.model)
    except TideError as exc:
        result = RunResult(run_id="", status="failed", error=exc.info())
    duration = time.perf_counter() - started
    judge = None if options.mock else partial(_judge, runtime, options.model)
    scores: list[tuple[str, Score]] = []
    for evaluator in config.evaluators:
        scores.append((evaluator.label, await score(evaluator, CaseRun(case, result), judge)))
    return RunScore(
        number,
        result.status,
        result.output,
        result.error,
        scores,
        result.totals.cost_usd,
        result.totals.total_tokens,
        duration,
    )


async def _judge(
    runtime: Runtime,
    override: str | None,
    rubric: str,
    output: Any,
    expected: Any,
    model: str | None,
) -> tuple[bool, str]:
    from runtime.evaluation.judge import judge, judge_model

    if model and "/" not in model and ":" in model:
        model = model.replace(":", "/", 1)  # Tactus writes judges' models as "openai:gpt-4o"
    verdict = await judge(runtime, model or judge_model(override), rubric, output, expected)
    return verdict.ok, verdict.reason
