"""What the execution store keeps and answers, independent of the database behind it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, TypedDict, Unpack, get_args

from runtime.events import (
    TERMINAL_TYPES,
    AgentStreamChunkEvent,
    AgentTurnEvent,
    CostEvent,
    ErrorInfo,
    Event,
    HumanRequestEvent,
    HumanResponseEvent,
    RunCancelledEvent,
    RunCompletedEvent,
    RunFailedEvent,
    RunStartedEvent,
    RunTotals,
)
from runtime.store._owners import INTERRUPTED
from runtime.store.journal import JournalEntry

RunStatus = Literal["queued", "running", "waiting", "completed", "failed", "cancelled"]
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
# A run that ended with ``run_<status>`` has that status.
TERMINAL_STATUSES = frozenset(kind.removeprefix("run_") for kind in TERMINAL_TYPES)
# A failed run whose error is of one of these kinds may be resumed from its journal, which is
# whole up to the stop: its process went away (``interrupted``: found gone when a store was
# opened; ``executor``: the IDE's executor process died, at its memory limit or killed from
# outside) or its procedure changed (``diverged``: restore the file). A run stopped by its own
# time limit (``timeout``) is not: the limit is part of the run and a resume keeps it, so the
# run would meet it again, or a second attempt would run for longer than was allowed.
RESUMABLE_ERRORS = frozenset({INTERRUPTED, "executor", "diverged"})
GroupBy = Literal["model", "agent", "procedure"]
GROUPS: tuple[str, ...] = get_args(GroupBy)

# What a run's ``pending`` says of each request it waits for (with ``created_at``).
PENDING_KEYS = {"request_id", "kind", "message", "options", "default", "timeout_s", "fields"}
_SINCE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> timedelta | None:
    """``30m``, ``1h``, ``24h``, ``7d``, ``2w`` as a window; ``all`` as None (no limit)."""
    value = text.strip().lower()
    if value == "all":
        return None
    match = _SINCE.match(value)
    if match is None:
        raise ValueError(f"'{text}' is not a time window; use e.g. 1h, 24h, 7d, 30d or all")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass
class RunRecord:
    """One execution: what ran, how it ended, and its totals. ``apply`` folds its events in."""

    id: str
    procedure: str
    status: RunStatus = "queued"
    inputs: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    mock: bool = False
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started_at: datetime | None = None
    finished_at: datetime | None = None
    output: Any = None
    error: ErrorInfo | None = None
    partial_text: str | None = None
    totals: RunTotals = field(default_factory=RunTotals)
    ttft_ms: float | None = None
    tags: dict[str, str] = field(default_factory=dict)
    # The questions to a person the run waits for (``human_request`` events without an answer).
    pending: list[dict[str, Any]] = field(default_factory=list)
    # Models named by agent turns, for a run recorded without one (``tide run`` without --model).
    _turn_models: list[str] | None = field(default=None, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def parked(self) -> bool:
        """Finished or waiting: no process holds the run."""
        return self.finished or self.status == "waiting"

    @property
    def resumable(self) -> bool:
        """Whether the run can be resumed (``tide runs resume``): it started, and failed in a
        way that left it resumable (``RESUMABLE_ERRORS``). A waiting run is answered instead."""
        return (
            self.status == "failed"
            and self.started_at is not None
            and self.error is not None
            and self.error.kind in RESUMABLE_ERRORS
        )

    def apply(self, event: Event) -> None:
        if isinstance(event, AgentStreamChunkEvent):
            if self.ttft_ms is None and self.started_at is not None:
                self.ttft_ms = (event.ts - self.started_at).total_seconds() * 1000
        elif isinstance(event, RunStartedEvent):
            self.status = "running"
            self.procedure = event.procedure
            self.inputs = dict(event.inputs)
            self.tags = dict(event.tags)
            if not event.resumed or self.started_at is None:
                self.started_at = event.ts
        elif isinstance(event, CostEvent):
            # Running totals while the run goes on; the terminal event's totals replace them.
            self.totals.add_turn(event)
        elif isinstance(event, AgentTurnEvent) and event.model:
            if self._turn_models is None and self.model is None:
                self._turn_models = []
            if self._turn_models is not None and event.model not in self._turn_models:
                self._turn_models.append(event.model)
                self.model = ", ".join(self._turn_models)
        elif isinstance(event, HumanRequestEvent):
            request = event.model_dump(
                mode="json",
                include=PENDING_KEYS,
            )
            request["created_at"] = event.ts.isoformat()
            self.pending = [p for p in self.pending if p["request_id"] != event.request_id]
            self.pending.append(request)
            self.status = "waiting"
        elif isinstance(event, HumanResponseEvent):
            self.pending = [p for p in self.pending if p["request_id"] != event.request_id]
            if not self.pending:
                self.status = "running"
        elif isinstance(event, RunCompletedEvent | RunFailedEvent | RunCancelledEvent):
            self.pending = []
            self._finish(event)

    def _finish(self, event: RunCompletedEvent | RunFailedEvent | RunCancelledEvent) -> None:
        self.finished_at = event.ts
        self.totals = event.totals.model_copy()
        if isinstance(event, RunCompletedEvent):
            self.status = "completed"
            self.output = event.output
        elif isinstance(event, RunFailedEvent):
            self.status = "failed"
            self.output = event.output
            self.error = event.error
            self.partial_text = event.partial_text
        else:
            self.status = "cancelled"
            self.error = ErrorInfo(kind="cancelled", message=f"the run was {event.reason}")
            self.partial_text = event.partial_text

    def summary(self) -> dict[str, Any]:
        """The run as the IDE's API and ``tide runs --json`` show it."""
        totals = self.totals
        return {
            "id": self.id,
            "procedure": self.procedure,
            "status": self.status,
            "inputs": self.inputs,
            "model": self.model,
            "mock": self.mock,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration_ms": totals.duration_ms if self.finished else None,
            "ttft_ms": self.ttft_ms,
            "cost_usd": totals.cost_usd,
            "total_tokens": totals.total_tokens,
            "agent_turns": totals.agent_turns,
            "tags": self.tags,
            "error": self.error.model_dump() if self.error else None,
            "pending": list(self.pending),
            "resumable": self.resumable,
        }

    def detail(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "output": self.output,
            "partial_text": self.partial_text,
            "totals": self.totals.model_dump(),
        }


class RunFilter(TypedDict, total=False):
    """Which runs ``list_runs`` returns, newest first: those matching every filter given."""

    procedure: str | None
    status: str | None
    limit: int  # 50 unless given
    id_prefix: str | None
    tags: Mapping[str, str] | None  # all of them


class Window(TypedDict, total=False):
    """What analytics count: turns or runs of the last ``since`` before ``now`` (all time
    without it), of mock runs only with ``include_mock``, of runs with all of ``tags``."""

    since: timedelta | None
    include_mock: bool
    now: datetime | None
    tags: Mapping[str, str] | None


@dataclass(frozen=True)
class Stat:
    avg: float | None = None
    p50: float | None = None
    p95: float | None = None

    def to_json(self) -> dict[str, float | None]:
        return {"avg": self.avg, "p50": self.p50, "p95": self.p95}


@dataclass(frozen=True)
class StatsRow:
    """Aggregates for one model, agent or procedure. Percentiles are nearest-rank."""

    key: str
    count: int
    ttft_ms: Stat
    # From a turn's start to its first text, across tool rounds (a run's: its ttft).
    first_visible_ms: Stat
    duration_ms: Stat
    total_tokens: Stat
    cost_usd: Stat
    cost_sum: float | None
    # Alerts raised (``runtime.alerts``) in the same window.
    alerts: int = 0
    # Agent turns whose tokens and cost are Tide's count (``usage_estimated``).
    usage_estimated: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "count": self.count,
            "alerts": self.alerts,
            "usage_estimated": self.usage_estimated,
            "ttft_ms": self.ttft_ms.to_json(),
            "first_visible_token_ms": self.first_visible_ms.to_json(),
            "duration_ms": self.duration_ms.to_json(),
            "total_tokens": self.total_tokens.to_json(),
            "cost_usd": {**self.cost_usd.to_json(), "sum": self.cost_sum},
        }


@dataclass(frozen=True)
class SeriesPoint:
    """One key's turns (or runs) in one time bucket starting at ``start``."""

    key: str
    start: datetime
    count: int
    ttft_ms: Stat
    cost_usd: Stat
    cost_sum: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "start": iso(self.start),
            "count": self.count,
            "ttft_ms": {"p50": self.ttft_ms.p50, "p95": self.ttft_ms.p95},
            "cost_usd": {"p50": self.cost_usd.p50, "p95": self.cost_usd.p95, "sum": self.cost_sum},
        }


class ExecutionStore(Protocol):
    """Where runs and their events are kept.

    Writes (``record_run``, ``record_event``) never block: they are queued and written in
    batches, in order; ``flush`` waits until everything queued so far is durable. Reads see
    what has been written. A ``readonly`` store only reads: it records no run.
    """

    readonly: bool

    def record_run(self, record: RunRecord) -> None:
        """Create or replace a run's row (a queued run, or a run's metadata before it starts)."""

    def record_event(self, event: Event) -> None:
        """Append an event; the run's row follows from its events."""

    def release(self, run_id: str) -> None:
        """Keep nothing of run ``run_id`` in memory: another process records it from now on (an
        executor). An event recorded here for it later starts from its stored row."""

    async def flush(self) -> None: ...

    async def list_runs(self, **filters: Unpack[RunFilter]) -> list[RunRecord]: ...

    async def get_run(self, run_id: str) -> RunRecord | None: ...

    async def read_events(self, run_id: str, *, after: int = 0) -> list[Event]:
        """The run's events with ``seq > after``, in order (chunk events rebuilt with their
        accumulated text)."""
        ...

    async def stats(self, by: GroupBy, **window: Unpack[Window]) -> list[StatsRow]:
        """Per-key aggregates: agent turns for ``model`` and ``agent``, finished runs for
        ``procedure``, within ``window``."""
        ...

    async def series(
        self, by: GroupBy, *, every: timedelta, **window: Unpack[Window]
    ) -> list[SeriesPoint]:
        """Like ``stats``, per time bucket ``every`` wide: count, p50/p95 time to first token
        and cost (see ``runtime.store.series``)."""
        ...

    async def reap_abandoned(self) -> list[str]:
        """End (as failed, ``interrupted``) the unfinished runs whose recording process is gone;
        return their ids."""
        ...

    # -- the journal (durable runs; see ``runtime.store.journal``) ------------------------------

    def record_journal(self, run_id: str, entry: JournalEntry, *, urgent: bool = True) -> None:
        """Queue a journal entry, written in the same transaction as the events queued before
        it: at once when ``urgent``, else with the next batch. ``flush`` waits until it is
        durable."""

    async def journal_durable(self) -> None:
        """Wait until every journal entry queued so far is on disk (at once when it is)."""
        ...

    async def read_journal(self, run_id: str) -> list[JournalEntry]:
        """The run's journal entries by position."""
        ...

    async def last_seq(self, run_id: str) -> int:
        """The highest event sequence number stored for the run (0: none)."""
        ...

    async def attempt_boundaries(self, run_id: str) -> list[int]:
        """The seqs of the events that began a resumed attempt of the run or ended an attempt
        (after seq 1, the first attempt's start), in order."""
        ...

    def resume_record(self, record: RunRecord) -> None:
        """Take a stored run up again in this process: its row says ``running`` (owned by this
        process) and the events that follow are folded into it."""

    async def answer_request(
        self, run_id: str, request_id: str, value: Any, answered_by: str
    ) -> RunRecord:
        """Answer a waiting run's pending request at once and durably: the answer in the
        journal, a ``human_response`` event, the run ``running`` in this process when nothing
        else is pending. Raises ``RequestMismatch`` (with what is pending) otherwise, and
        ``InvalidAnswer`` for a person's answer that does not fit a ``multiple`` request's
        fields (omitted fields with a default take it)."""
        ...

    async def expire_requests(self) -> list[str]:
        """Answer with their defaults the pending requests whose timeout has passed, leaving
        those runs ``failed`` (``interrupted``) to be resumed; return their ids."""
        ...

    async def aclose(self) -> None: ...
