"""Batch runs: one run of a procedure per line of a JSONL file of inputs, a few at a time.

Every line's run is tagged ``batch_input=<key>``, a digest of the procedure's source, the line's
checked inputs, the model and mock mode, so that the same batch run again finds the lines that
already completed in the store and takes their results from there instead of running them again:
an interrupted batch resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from runtime.errors import InputValidationError, TideError
from runtime.events import ErrorInfo, RunTotals, ValidationIssue
from runtime.fields import coerce_inputs
from runtime.inspect import ProcedureInfo
from runtime.source import ProcedureSource
from runtime.store.base import ExecutionStore, RunRecord

KEY_TAG = "batch_input"
LINE_TAG = "batch_line"
# At most this many bad lines are listed in one error.
MAX_REPORTED = 20


@dataclass(frozen=True)
class BatchLine:
    number: int  # 1-based, as editors count
    inputs: dict[str, Any]
    key: str = ""


@dataclass
class BatchResult:
    line: int
    inputs: dict[str, Any]
    run_id: str | None
    status: str
    output: Any = None
    error: ErrorInfo | None = None
    totals: RunTotals = field(default_factory=RunTotals)
    # True when the result was taken from an earlier run in the store.
    reused: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "inputs": self.inputs,
            "run_id": self.run_id,
            "status": self.status,
            "output": self.output,
            "error": self.error.model_dump() if self.error else None,
            "totals": self.totals.model_dump(),
            "reused": self.reused,
        }


def load_batch(
    path: str | Path,
    info: ProcedureInfo,
    source: ProcedureSource,
    *,
    model: str | None,
    mock: bool,
) -> list[BatchLine]:
    """The lines of a JSONL file of inputs, each checked against the procedure's declared
    inputs and given its key. Raises ``InputValidationError`` listing every bad line as
    ``FILE:LINE``, before anything runs."""
    lines, issues = _read_lines(Path(path))
    checked, more = _check_lines(lines, info, source, path=path, model=model, mock=mock)
    issues = sorted([*issues, *more], key=lambda i: int(i.path.rsplit(":", 1)[1]))
    if issues:
        raise _bad_lines(issues)
    if not checked:
        raise InputValidationError(
            f"{path} has no inputs", [], hint='one JSON object per line, e.g. {"topic": "tides"}'
        )
    return checked


def _read_lines(path: Path) -> tuple[list[BatchLine], list[ValidationIssue]]:
    """The non-blank lines that are JSON objects, and what is wrong with the others."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputValidationError(
            f"cannot read the inputs file {path}: {exc}", [], hint="--over takes a JSONL file"
        ) from None
    lines: list[BatchLine] = []
    issues: list[ValidationIssue] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            issues.append(ValidationIssue(path=f"{path}:{number}", message=f"not JSON: {exc.msg}"))
            continue
        if not isinstance(value, dict):
            kind = "an array" if isinstance(value, list) else type(value).__name__
            issues.append(
                ValidationIssue(
                    path=f"{path}:{number}",
                    message=f"expected a JSON object of inputs, got {kind}",
                )
            )
            continue
        lines.append(BatchLine(number, value))
    return lines, issues


def _check_lines(
    lines: list[BatchLine],
    info: ProcedureInfo,
    source: ProcedureSource,
    *,
    path: str | Path,
    model: str | None,
    mock: bool,
) -> tuple[list[BatchLine], list[ValidationIssue]]:
    checked: list[BatchLine] = []
    issues: list[ValidationIssue] = []
    digest = hashlib.sha256(source.text.encode()).hexdigest()
    for line in lines:
        try:
            inputs = coerce_inputs(info.inputs, line.inputs)
        except InputValidationError as exc:
            detail = "; ".join(f"{i.path}: {i.message}" for i in exc.issues) or exc.message
            issues.append(ValidationIssue(path=f"{path}:{line.number}", message=detail))
            continue
        key = json.dumps(
            {"source": digest, "inputs": inputs, "model": model, "mock": mock},
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        )
        checked.append(
            BatchLine(line.number, inputs, hashlib.sha256(key.encode()).hexdigest()[:24])
        )
    return checked, issues


def _bad_lines(issues: list[ValidationIssue]) -> InputValidationError:
    shown = issues[:MAX_REPORTED]
    listing = "\n".join(f"  {i.path}: {i.message}" for i in shown)
    more = f"\n  … and {len(issues) - len(shown)} more" if len(issues) > len(shown) else ""
    noun = "line" if len(issues) == 1 else "lines"
    return InputValidationError(
        f"{len(issues)} bad input {noun}:\n{listing}{more}",
        issues,
        hint="each line must be a JSON object of the procedure's inputs",
    )


async def completed_before(store: ExecutionStore, line: BatchLine) -> RunRecord | None:
    """The latest completed run of this line's key, if any."""
    found = await store.list_runs(status="completed", tags={KEY_TAG: line.key}, limit=1)
    return found[0] if found else None


def reused_result(line: BatchLine, record: RunRecord) -> BatchResult:
    return BatchResult(
        line=line.number,
        inputs=line.inputs,
        run_id=record.id,
        status="completed",
        output=record.output,
        totals=record.totals,
        reused=True,
    )


RunLine = Callable[[BatchLine], Awaitable[BatchResult]]


async def run_batch(
    lines: list[BatchLine],
    run_line: RunLine,
    *,
    concurrency: int,
    on_result: Callable[[BatchResult], None],
    store: ExecutionStore | None = None,
    on_start: Callable[[BatchLine], None] | None = None,
) -> list[BatchResult]:
    """Run every line not completed before (per ``store``), at most ``concurrency`` at once;
    ``on_result`` hears each result as it comes. Returns the results in input order."""
    results: dict[int, BatchResult] = {}
    pending: list[BatchLine] = []
    for line in lines:
        record = await completed_before(store, line) if store is not None else None
        if record is not None:
            results[line.number] = result = reused_result(line, record)
            on_result(result)
        else:
            pending.append(line)
    limiter = anyio.CapacityLimiter(max(1, concurrency))

    async def one(line: BatchLine) -> None:
        async with limiter:
            if on_start is not None:
                on_start(line)
            try:
                result = await run_line(line)
            except TideError as exc:
                result = BatchResult(line.number, line.inputs, None, "failed", error=exc.info())
            results[line.number] = result
            on_result(result)

    async with anyio.create_task_group() as group:
        for line in pending:
            group.start_soon(one, line)
    return [results[line.number] for line in lines]
