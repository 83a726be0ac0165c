"""Taking a stored run up again: ``resume`` (an interrupted run, or one whose question has been
answered) and ``answer`` (a waiting run's question).

A run is resumed under its own id, from the procedure as its journal recorded it: the same
file (unchanged: otherwise ``DivergedError`` names the first line that differs), inputs, model
and mock mode. See ``runtime.journal`` for how the journal answers what the run did before.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from runtime.errors import TideError
from runtime.events import AgentStreamChunkEvent, AgentTurnEvent, CostEvent, RunStartedEvent
from runtime.journal import DivergedError, Journal, Slot
from runtime.source import ProcedureSource
from runtime.store import INTERRUPTED, RESUMABLE_ERRORS
from runtime.store.handler import StoreHandler
from runtime.store.journal import RUN_POSITION, JournalEntry, RequestMismatch
from runtime.turn_account import TurnAccount

if TYPE_CHECKING:
    from runtime.run import Run
    from runtime.store.base import ExecutionStore, RunRecord


class MakesRuns(Protocol):
    """What resuming needs of the runtime (a ``Runtime``)."""

    def create_run(
        self, procedure: ProcedureSource, inputs: dict[str, Any] | None = None, **options: Any
    ) -> Run: ...


class NotResumable(TideError):
    """The run cannot be resumed (finished, unknown, running elsewhere, waiting)."""

    kind = "not_resumable"


class UnknownRun(TideError):
    kind = "not_found"


def parse_answer(text: str) -> Any:
    """A command line's answer: JSON when it parses (``true``, ``3``, ``{"a": 1}``), else text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


async def find_run(store: ExecutionStore, run_id: str) -> RunRecord:
    await store.flush()  # what this process recorded last is what is read
    record = await store.get_run(run_id)
    if record is None:
        matches = await store.list_runs(id_prefix=run_id, limit=2)
        if len(matches) == 1:
            record = matches[0]
    if record is None:
        raise UnknownRun(f"no run '{run_id}' in this store", hint="tide runs lists the runs")
    return record


def check_resumable(record: RunRecord) -> None:
    """Raise ``NotResumable``, saying why, for a run that ``record.resumable`` says is not."""
    if record.resumable:
        return
    status = record.status
    if status in ("completed", "cancelled"):
        raise NotResumable(
            f"run '{record.id}' is {status}: there is nothing to resume",
            hint="start a new run of the procedure",
        )
    if status == "failed" and record.error is not None and record.error.kind in RESUMABLE_ERRORS:
        raise NotResumable(
            f"run '{record.id}' stopped before it started: there is nothing to resume",
            hint="start a new run of the procedure",
        )
    if status == "failed":
        reason = record.error.message if record.error else "it failed"
        kinds = ", ".join(sorted(RESUMABLE_ERRORS))
        raise NotResumable(
            f"run '{record.id}' failed ({reason}); only a run that stopped without finishing "
            f"({kinds}) can be resumed",
            hint="start a new run of the procedure",
        )
    if status == "waiting":
        ids = ", ".join(p["request_id"] for p in record.pending)
        raise NotResumable(
            f"run '{record.id}' is waiting for a person (request {ids})",
            hint=f"answer it: tide runs answer {record.id} VALUE",
        )
    if status in ("queued", "running"):
        raise NotResumable(
            f"run '{record.id}' is {status} in another process",
            hint="a run whose process has stopped shows as failed (interrupted) once the store is "
            "opened again",
        )


@dataclasses.dataclass(frozen=True)
class ResumePlan:
    """A stored run found resumable: its record, journal, the run as its journal began
    (``spec``: procedure, inputs, model, mock, timeout) and the procedure checked against it."""

    record: RunRecord
    entries: list[JournalEntry]
    spec: dict[str, Any]
    source: ProcedureSource
    stored_through: int


async def plan_resume(store: ExecutionStore, run_id: str, *, answered: bool = False) -> ResumePlan:
    """Check that ``run_id`` can be resumed, running none of its code. Raises ``TideError``s
    (``UnknownRun``, ``NotResumable``, ``DivergedError``) for a run that cannot be."""
    record = await find_run(store, run_id)
    if not (answered and record.status == "running"):
        check_resumable(record)
    entries = await store.read_journal(record.id)
    header = next((e for e in entries if e.position == RUN_POSITION), None)
    if header is None:
        raise NotResumable(
            f"run '{record.id}' was recorded without a journal, so it cannot be resumed",
            hint="start a new run of the procedure",
        )
    spec: dict[str, Any] = header.value
    source = load_recorded_source(spec)
    stored_through = await store.last_seq(record.id)
    return ResumePlan(record, entries, spec, source, stored_through)


async def open_resumed_run(
    runtime: MakesRuns,
    store: ExecutionStore,
    run_id: str,
    *,
    answered: bool = False,
    **options: Any,
) -> Run:
    """The stored run, ready to ``execute()`` from its journal. Raises ``TideError``s for a run
    that cannot be resumed, before anything about it changes. ``answered``: this process has
    just answered the run's last question (which leaves it ``running`` here)."""
    plan = await plan_resume(store, run_id, answered=answered)
    record, entries, spec = plan.record, plan.entries, plan.spec
    journal = Journal(
        record.id,
        store,
        entries,
        stored_through=plan.stored_through,
        boundaries=await store.attempt_boundaries(record.id),
        earlier_ms=record.totals.duration_ms,
    )
    handlers = list(options.pop("handlers", None) or [])
    if not any(isinstance(h, StoreHandler) for h in handlers):
        handlers.append(StoreHandler(store))
    run = runtime.create_run(
        plan.source,
        spec.get("inputs") or {},
        handlers=handlers,
        mock=bool(spec.get("mock")),
        model=spec.get("model"),
        timeout_s=spec.get("timeout_s"),
        run_id=record.id,
        journal=journal,
        store=store,
        **options,
    )
    await run.prepare()
    interrupted = await _interrupted_attempt(store, record.id, entries)
    journal.on_live = lambda slot: _account_interrupted(run, slot, interrupted)
    store.resume_record(record)
    return run


def load_recorded_source(spec: dict[str, Any]) -> ProcedureSource:
    """The procedure the journal names, checked against the text it recorded."""
    display = str(spec.get("procedure") or "<source>")
    text = str(spec.get("text") or "")
    root = Path(spec["project_root"]) if spec.get("project_root") else None
    path = spec.get("path")
    if path is None:
        return ProcedureSource.from_text(text, display, root)
    source = dataclasses.replace(ProcedureSource.from_path(path), display_name=display)
    if source.text != text:
        line, was, now = first_difference(text, source.text)
        raise DivergedError(
            f"the procedure changed since the run started: line {line} was {was!r}, now {now!r}",
            file=display,
            line=line,
            hint="restore the file as it was to resume this run, or start a new run",
        )
    return source


def first_difference(before: str, after: str) -> tuple[int, str, str]:
    old, new = before.splitlines(), after.splitlines()
    for index in range(max(len(old), len(new))):
        a = old[index] if index < len(old) else "(end of file)"
        b = new[index] if index < len(new) else "(end of file)"
        if a != b:
            return index + 1, a.strip(), b.strip()
    return max(len(old), 1), "(a line ending)", "(another line ending)"


@dataclasses.dataclass
class _StoppedCall:
    """What is stored of the call a turn had in flight when its run stopped."""

    texts: list[str]
    first_at: datetime
    last_at: datetime
    turn_began: datetime | None  # None: the turn began before the call's last journaled effect

    def timings(self) -> dict[str, Any]:
        """Its time as far as it is known: from its turn's start (or its first chunk) to its
        last stored chunk. Its time to first token is unknown: when its request left is not
        stored."""
        began = self.turn_began or self.first_at
        first = None if self.turn_began is None else self.first_at - self.turn_began
        return {
            "duration_ms": (self.last_at - began).total_seconds() * 1000,
            "time_to_first_token_ms": None,
            "first_visible_token_ms": None if first is None else first.total_seconds() * 1000,
        }


async def _interrupted_attempt(
    store: ExecutionStore, run_id: str, entries: list[JournalEntry]
) -> dict[tuple[str, int], _StoppedCall]:
    """The chunks each turn had streamed after the last journaled effect: the call in flight
    when the run stopped."""
    after = max((e.seq for e in entries), default=0)
    calls: dict[tuple[str, int], _StoppedCall] = {}
    began: dict[tuple[str, int], datetime] = {}
    for event in await store.read_events(run_id, after=after):
        if isinstance(event, RunStartedEvent):
            calls.clear()  # an earlier attempt's call, counted when that attempt resumed
            began.clear()
        elif isinstance(event, AgentTurnEvent) and event.stage == "started":
            began[(event.agent, event.turn)] = event.ts
        elif isinstance(event, AgentStreamChunkEvent):
            key = (event.agent, event.turn)
            call = calls.get(key)
            if call is None:
                calls[key] = _StoppedCall([], event.ts, event.ts, began.get(key))
                call = calls[key]
            call.texts.append(event.chunk_text)
            call.last_at = event.ts
    return calls


def _account_interrupted(run: Run, slot: Slot, calls: dict[tuple[str, int], _StoppedCall]) -> None:
    """The first live effect of a resumed run repeats the call that was in flight: what that
    call sent and had streamed is counted, as an estimate, against its first attempt."""
    if slot.kind != "model" or slot.request is None:
        return
    for (agent, turn), call in calls.items():
        if agent != slot.name:
            continue
        texts = call.texts
        text = "".join(texts)
        account = TurnAccount(llm_calls=1, chunks=len(texts), finish_reason=INTERRUPTED)
        account.add_estimate(slot.client, slot.request.messages, texts)
        if not account.usage_estimated:
            # A client that cannot count: about four characters a token.
            account.completion_tokens = max(len(texts), len(text) // 4)
            account.usage_estimated = True
        fields = {**account.cost_fields(), **call.timings()}
        model = slot.client.model if slot.client is not None else slot.request.model
        provider = slot.client.provider if slot.client is not None else "?"
        cost = run.bus.emit(
            CostEvent, agent=agent, turn=turn, model=model, provider=provider, **fields
        )
        run.note_usage(cost)
        run.note_partial(text)


async def answer_and_resume(
    runtime: MakesRuns,
    store: ExecutionStore,
    run_id: str,
    request_id: str | None,
    value: Any,
    **options: Any,
) -> Any:
    """Answer a waiting run's request (its only one when ``request_id`` is None), then resume
    it. Raises ``RequestMismatch`` for a request the run does not wait for."""
    record = await find_run(store, run_id)
    if request_id is None:
        if len(record.pending) != 1:
            what = (
                "nothing"
                if not record.pending
                else f"{len(record.pending)} requests: give --request"
            )
            raise RequestMismatch(f"run '{record.id}' waits for {what}", record.pending)
        request_id = str(record.pending[0]["request_id"])
    await store.answer_request(record.id, request_id, value, "person")
    run = await open_resumed_run(runtime, store, record.id, answered=True, **options)
    return await run.execute()
