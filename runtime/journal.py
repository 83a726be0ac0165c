"""A durable run's journal at work: every effect is looked up before it happens and recorded
once it has.

A run with a store records each effect as it completes (``runtime.store.journal`` describes an
entry). A resumed run executes the procedure again from the start in a fresh sandbox: an effect
the journal holds is answered from it (the model is not called, the tool does not run), and the
first effect it does not hold runs live. Events the first attempt stored are not sent again:
each answered effect sets the event numbering to where it stood after the effect, so the code
between effects numbers its events as it did the first time, and those already stored are left
out (``EventBus.replaying``).

Numbering goes on after the last stored event from the first model call that runs live (its
chunks cannot number as the interrupted attempt's did); up to there, even the effects that
run again (a tool, a sub-procedure holding a call) number their events as the first time.

An effect asked for at a position with another kind, name or arguments than the journal holds
there means the procedure no longer does what it did: the run stops with ``DivergedError``.

Other parts of the runtime reach the journal through ``journaled(effects, ...)``, which runs
the computation directly when the run keeps no journal. A read of something that changes from
run to run (the time, a random number) goes through ``nondeterministic``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.from_thread

from runtime.errors import TideError
from runtime.models.base import (
    CallTiming,
    Finish,
    ModelClient,
    ModelItem,
    ModelRequest,
    RequestSent,
    TextDelta,
    ToolCallRequest,
    Usage,
)
from runtime.store.journal import RUN_POSITION, JournalEntry, args_hash

if TYPE_CHECKING:
    from runtime.bus import EventBus
    from runtime.handlers import LogHandler
    from runtime.store.base import ExecutionStore

T = TypeVar("T")
_SUMMARY_CHARS = 160
# Entries that must be on disk before the run goes on: a prediction costs money and a
# person's answer cannot be asked for again. A model call's entry is written at once and the
# next model call waits until it is on disk (by then, usually long since): a crash repeats at
# most the one call whose entry was on its way. The others (tools, sub-procedures, reads) go
# with the next batch of events, within milliseconds: one lost in a crash is done again on
# resume, in the sandbox.
WAIT_FOR_DISK = frozenset({"run", "prediction", "human"})
WRITE_AT_ONCE = WAIT_FOR_DISK | {"model"}


class DivergedError(TideError):
    """A resumed run asked for something else than its journal holds, or its source changed."""

    kind = "diverged"


class ReplayedError(TideError):
    """An effect that failed the first time fails the same way when it is replayed."""

    def __init__(self, kind: str, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.kind = kind


@dataclass
class Slot:
    """One effect's place in the journal, and the entry that answers it when replaying."""

    position: int
    kind: str
    name: str
    ordinal: int
    args_hash: str
    summary: str
    entry: JournalEntry | None = None
    # A model call's client and request (to estimate what a repeated call cost before).
    client: ModelClient | None = None
    request: ModelRequest | None = None

    @property
    def is_leaf_answer(self) -> bool:
        """The journal answers this effect without running it (it contained no other)."""
        return self.entry is not None and self.entry.end_position <= self.position + 1


def summarize(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return text if len(text) <= _SUMMARY_CHARS else text[: _SUMMARY_CHARS - 1] + "…"


class Journal:
    """The journal of one run, in the process that runs it."""

    def __init__(
        self,
        run_id: str,
        store: ExecutionStore,
        entries: list[JournalEntry] | None = None,
        *,
        stored_through: int = 0,
        boundaries: list[int] | None = None,
        earlier_ms: float = 0.0,
    ) -> None:
        self.run_id = run_id
        self.store = store
        self.entries = {e.position: e for e in entries or []}
        self.stored_through = stored_through
        # A resumed run: the seqs of the stored events that began or ended its attempts, and
        # how long those attempts ran.
        self.boundaries = list(boundaries or [])
        self.earlier_ms = earlier_ms
        # Positions below this were reached by the first attempt: replaying until then.
        self.replay_end = max(
            (max(e.position + 1, e.end_position) for e in self.entries.values()), default=1
        )
        self._next = RUN_POSITION + 1
        self._ordinals: Counter[tuple[str, str]] = Counter()
        self._live = self.replay_end <= self._next
        self.bus: EventBus | None = None
        self.store_handler: LogHandler | None = None
        self.state: Callable[[], dict[str, Any]] | None = None
        # Brings tables Lua changed in place into the state before it is read (state_tables).
        self.sync_state: Callable[[], None] | None = None
        self.on_live: Callable[[Slot], None] | None = None

    @property
    def resumed(self) -> bool:
        return RUN_POSITION in self.entries

    @property
    def replaying(self) -> bool:
        return not self._live

    def attach(
        self,
        bus: EventBus,
        store_handler: LogHandler | None,
        state: Callable[[], dict[str, Any]],
    ) -> None:
        self.bus = bus
        self.store_handler = store_handler
        self.state = state

    # -- positions ----------------------------------------------------------------------------

    def begin(
        self,
        kind: str,
        name: str,
        args: Any,
        *,
        client: ModelClient | None = None,
        request: ModelRequest | None = None,
    ) -> Slot:
        """Take the next position for an effect; the journal's entry there when it has one."""
        position = self._next
        self._next += 1
        key = (kind, name)
        ordinal = self._ordinals[key]
        self._ordinals[key] += 1
        slot = Slot(position, kind, name, ordinal, args_hash(args), summarize(args))
        slot.client, slot.request = client, request
        entry = self.entries.get(position)
        if entry is not None:
            self._check(slot, entry)
            slot.entry = entry
        elif position >= self.replay_end and not self._live and kind == "model":
            # Until a model call runs live, the code between effects numbers its events as the
            # first attempt did (those already stored are left out); a live call streams as
            # many chunks as it will, so from there on every event is numbered anew.
            self._live = True
            if self.bus is not None:
                self.bus.go_live()
            if self.on_live is not None:
                self.on_live(slot)
        return slot

    def abandon(self, slot: Slot) -> None:
        """The effect failed before it completed: its position goes to the next attempt."""
        if self._next == slot.position + 1 and slot.entry is None:
            self._next = slot.position
            self._ordinals[(slot.kind, slot.name)] -= 1

    def answered(self, slot: Slot) -> Any:
        """The journal's answer for ``slot``: event numbering continues from where it was."""
        entry = slot.entry
        assert entry is not None
        self._next = max(self._next, entry.end_position)
        if self.bus is not None:
            self.bus.set_seq(entry.seq)
        state = entry.extra.get("state")
        if state is not None and self.state is not None:
            values = self.state()
            values.clear()
            values.update(state)
        error = entry.extra.get("error")
        if error is not None:
            raise ReplayedError(
                str(error.get("kind", "error")),
                str(error.get("message", "")),
                file=error.get("file"),
                line=error.get("line"),
                hint=error.get("hint"),
            )
        return entry.value

    def _check(self, slot: Slot, entry: JournalEntry) -> None:
        same_hash = entry.args_hash is None or entry.args_hash == slot.args_hash
        if entry.kind == slot.kind and entry.name == slot.name and same_hash:
            return
        was = f"{entry.kind} '{entry.name}'"
        now = f"{slot.kind} '{slot.name}'"
        if entry.kind == slot.kind and entry.name == slot.name:
            before = entry.extra.get("summary", "?")
            detail = f"{now} is asked with other arguments: was {before}, now {slot.summary}"
        else:
            detail = f"the run first asked for {was} here, now for {now}"
        raise DivergedError(
            f"the procedure no longer does what this run did (effect #{slot.position}): {detail}",
            hint="a resumed run must make the same calls in the same order; start a new run",
        )

    # -- recording ----------------------------------------------------------------------------

    async def record(
        self,
        slot: Slot,
        value: Any,
        *,
        extra: dict[str, Any] | None = None,
        seq: int | None = None,
    ) -> None:
        """Record ``slot``'s outcome once the store has every event before it; for a model
        call or an answer, wait until it is on disk."""
        if slot.entry is not None:
            return  # replayed: the journal has it already
        bus = self.bus
        if bus is not None and self.store_handler is not None:
            await bus.delivered(self.store_handler)
        entry = JournalEntry(
            position=slot.position,
            kind=slot.kind,
            name=slot.name,
            ordinal=slot.ordinal,
            args_hash=slot.args_hash,
            value=_jsonable(value),
            seq=seq if seq is not None else (bus.last_seq if bus is not None else 0),
            end_position=self._next,
            extra={"summary": slot.summary, **(extra or {})},
        )
        self.entries[slot.position] = entry
        self.store.record_journal(self.run_id, entry, urgent=slot.kind in WRITE_AT_ONCE)
        if slot.kind in WAIT_FOR_DISK:
            await self.store.flush()

    def record_from_thread(self, slot: Slot, value: Any, **options: Any) -> None:
        anyio.from_thread.run(lambda: self.record(slot, value, **options))

    async def record_run(self, spec: dict[str, Any]) -> None:
        """Position 0: what it takes to start the run again."""
        slot = Slot(RUN_POSITION, "run", str(spec.get("procedure", "")), 0, "", "")
        await self.record(slot, spec, seq=self.bus.last_seq if self.bus else 0)

    # -- effects that run on the Lua thread ------------------------------------------------------

    def run_sync(self, kind: str, name: str, args: Any, compute: Callable[[], T]) -> T:
        """An effect on the Lua thread: answered from the journal, or computed and recorded
        (with the State it left, and its error if it failed)."""
        slot = self.begin(kind, name, args)
        if slot.is_leaf_answer:
            answer: T = self.answered(slot)
            return answer
        if self.sync_state is not None:
            self.sync_state()
        values = self.state() if self.state is not None else {}
        before = _jsonable(values)
        try:
            result = compute()
        except TideError as exc:
            if slot.entry is None:
                error = exc.info().model_dump(exclude_none=True)
                self.record_from_thread(slot, None, extra={"error": error})
            raise
        except BaseException:
            self.abandon(slot)
            raise
        if slot.entry is not None:
            # Composite (it contained other effects, answered one by one): its result stands.
            return result
        if self.sync_state is not None:
            self.sync_state()
        after = _jsonable(values)
        extra = {"state": after} if after != before else {}
        self.record_from_thread(slot, result, extra=extra)
        return result

    # -- model calls ---------------------------------------------------------------------------

    def wrap(self, client: ModelClient) -> ModelClient:
        return JournaledClient(client, self)


def journaled_client(journal: Journal | None, client: ModelClient) -> ModelClient:
    """``client``, journaled when there is a journal."""
    return client if journal is None else journal.wrap(client)


class JournaledClient:
    """A model client whose completed calls are journaled, and answered from the journal when
    a resumed run asks again."""

    def __init__(self, inner: ModelClient, journal: Journal) -> None:
        self.inner = inner
        self.journal = journal

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def provider(self) -> str:
        return self.inner.provider

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelItem]:
        journal = self.journal
        args = {
            "model": request.model,
            "messages": request.messages,
            "tools": [asdict(t) for t in request.tools],
            "settings": request.settings,
            "output_schema": request.output_schema,
        }
        # The previous call's entry is on disk before this one is paid for.
        await journal.store.journal_durable()
        slot = journal.begin("model", request.agent, args, client=self.inner, request=request)
        if slot.entry is not None:
            for item in _replayed_items(slot.entry.value, slot.entry.extra.get("timing")):
                yield item
            journal.answered(slot)
            return
        text: list[str] = []
        calls: list[dict[str, Any]] = []
        usage = Usage()
        finish = Finish()
        completed = False
        began = sent = time.monotonic()
        first_text: float | None = None
        try:
            async for item in self.inner.stream(request):
                if isinstance(item, TextDelta):
                    if first_text is None and item.text:
                        first_text = time.monotonic()
                    text.append(item.text)
                elif isinstance(item, RequestSent):
                    sent = item.at
                elif isinstance(item, ToolCallRequest):
                    calls.append(asdict(item))
                elif isinstance(item, Usage):
                    usage = Usage(
                        usage.prompt_tokens + item.prompt_tokens,
                        usage.completion_tokens + item.completion_tokens,
                        usage.cost_usd + item.cost_usd,
                    )
                elif isinstance(item, Finish):
                    finish = item
                yield item
            completed = True
        finally:
            if not completed:
                journal.abandon(slot)
        value = {
            "text": "".join(text),
            "tool_calls": calls,
            "usage": asdict(usage),
            "finish": asdict(finish),
        }
        timing = CallTiming(
            sent_ms=(sent - began) * 1000,
            first_text_ms=None if first_text is None else (first_text - began) * 1000,
            ended_ms=(time.monotonic() - began) * 1000,
        )
        await journal.record(slot, value, extra={"timing": asdict(timing)})


def _replayed_items(value: dict[str, Any], timing: dict[str, Any] | None) -> list[ModelItem]:
    # Entries journaled without their timing (older runs) are replayed as taking no time.
    items: list[ModelItem] = []
    if timing is not None:
        items.append(RequestSent(time.monotonic(), replayed=CallTiming(**timing)))
    if value.get("text"):
        items.append(TextDelta(value["text"]))
    items.extend(ToolCallRequest(**call) for call in value.get("tool_calls", []))
    items.append(Usage(**value.get("usage", {})))
    items.append(Finish(**value.get("finish", {})))
    return items


def _jsonable(value: Any) -> Any:
    """``value`` as JSON will give it back (a replay must see what a live run saw)."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def journaled(effects: object, kind: str, name: str, args: Any, compute: Callable[[], T]) -> T:
    """Run an effect through the run's journal, if the run keeps one (call on the Lua thread).

    ``effects`` is the ``Host``'s effects (a ``Run``, or an inspection that has no journal)."""
    journal: Journal | None = getattr(effects, "journal", None)
    if journal is None:
        return compute()
    return journal.run_sync(kind, name, args, compute)


def nondeterministic(effects: object, name: str, args: Any, compute: Callable[[], T]) -> T:
    """A read whose value changes from run to run (``os.time()``, a random number): a resumed
    run sees the value the first attempt saw. ``compute``'s result must be JSON."""
    return journaled(effects, "read", name, args, compute)
