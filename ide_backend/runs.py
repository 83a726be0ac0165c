"""The run manager: starts runs as tasks in the server's event loop, at most ``max_concurrent``
at a time (the rest wait, ``queued``), relays their events and records them in the store.

Only ``cancel`` stops a run; watchers come and go without affecting it. Once a run has ended
and the store has all of its events, the server lets go of them: a finished run lives in the
store only, and its watchers read what they have not taken from there (see ``relay``), so that
the server's memory returns to where it was however many runs ended. A run waiting for an
answer keeps its record and its channel's watchers (not its events) until it is resumed. The
manager also decides when the process runs full garbage collections (see ``gc_policy``).
"""

from __future__ import annotations

import gc
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup

from ide_backend.gc_policy import GcPolicy
from ide_backend.relay import RunChannel
from ide_backend.timeouts import watch_timeouts
from runtime.api import Runtime
from runtime.events import TERMINAL_TYPES, ErrorInfo, Event, RunFailedEvent
from runtime.executor import ExecutorPool, ExecutorRun
from runtime.handlers import LogHandler
from runtime.resume import NotResumable, UnknownRun, open_resumed_run, plan_resume
from runtime.run import Run
from runtime.source import ProcedureSource
from runtime.store import ExecutionStore, RunRecord, StoreHandler
from runtime.store.opening import refuse_read_only

log = logging.getLogger("tide.ide")

# How long shutting down waits for cancelled runs to record their end.
SHUTDOWN_GRACE_S = 10.0
# How often an ended run looks whether the store has all of its events yet.
STORE_WAIT_S = 0.02
# How long a run's end waits for the store to have the run before it is sent anyway.
END_STORED_WAIT_S = 5.0
# Events a running run's channel holds before it lets go of those the store has: a run that
# makes events by the million holds a few thousand in the server, not all of them.
RELEASE_AT = 4096
# Ended runs kept in memory, at most, because the store lacks some of their events.
UNSTORED_KEPT = 64


@dataclass
class LiveRun:
    """A run this server started: its record (kept current from its events) and channel.

    Once the run has ended the ``Run`` itself, its Lua state and the rest, is let go at once,
    whoever still holds the ``LiveRun`` (a watcher, a request): a cycle through the run's
    handlers would otherwise wait for a full garbage collection, a pause of every stream.

    ``stored(seq)`` waits until the store has the run's events through ``seq``: the run's end
    reaches its watchers after that, so that a client that sees a run end finds all of it in
    the history (its stats, its events). ``let_go()`` starts letting go of the events the store
    has, once the channel holds ``RELEASE_AT`` (``releasing`` until it is done).
    """

    record: RunRecord
    channel: RunChannel
    _run: Run | ExecutorRun | None = field(default=None, init=False)
    done: anyio.Event = field(default_factory=anyio.Event)
    holds_slot: bool = False
    queue_scope: anyio.CancelScope | None = None
    stored: Callable[[int], Awaitable[bool]] | None = None
    let_go: Callable[[], None] | None = None
    releasing: bool = False

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def run(self) -> Run | ExecutorRun:
        if self._run is None:
            raise RuntimeError(f"run {self.id} has ended")
        return self._run

    @run.setter
    def run(self, run: Run | ExecutorRun) -> None:
        self._run = run

    def log(self, event: Event) -> Awaitable[None] | None:
        self.record.apply(event)
        if self.stored is not None and event.type in TERMINAL_TYPES:
            return self._end(event)
        self.channel.log(event)
        if len(self.channel.entries) >= RELEASE_AT and not self.releasing and self.let_go:
            self.releasing = True
            self.let_go()
        return None

    async def _end(self, event: Event) -> None:
        assert self.stored is not None
        with anyio.move_on_after(END_STORED_WAIT_S):
            await self.stored(event.seq)
        self.channel.log(event)


class RunManager:
    def __init__(
        self,
        runtime: Runtime,
        store: ExecutionStore,
        *,
        max_concurrent: int,
        max_backlog: int,
        load_models: bool = False,
        executors: ExecutorPool | None = None,
    ) -> None:
        """``executors``: run each procedure in an executor process (else in this one).
        ``load_models``: set up the model libraries at start, in a worker thread: they take
        seconds, which on a first run's call would stall the event loop and every stream."""
        self.executors = executors
        self.runtime = runtime
        self.store = store
        self.max_concurrent = max_concurrent
        self.max_backlog = max_backlog
        self._slots = anyio.Semaphore(max_concurrent)
        self._active: dict[str, LiveRun] = {}
        # Ended runs waiting for an answer: their records and watchers (not their events).
        self._parked: dict[str, LiveRun] = {}
        self._unstored: OrderedDict[str, LiveRun] = OrderedDict()
        self._group: TaskGroup | None = None
        self._load_models = load_models
        self._models_loaded = anyio.Event()
        self.gc = GcPolicy()

    async def __aenter__(self) -> RunManager:
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._load_model_libraries)
        self.gc.__enter__()
        self._group.start_soon(self.gc.run, lambda: len(self._active))
        self._group.start_soon(watch_timeouts, self)
        return self

    async def _load_model_libraries(self) -> None:
        try:
            if self._load_models:
                await self.runtime.router.warm_up()
        except Exception:
            log.warning("could not load the model libraries ahead of time", exc_info=True)
        finally:
            # The model client brings a million long-lived objects; a full garbage collection
            # walking them all stalls the event loop, and every stream, for hundreds of ms.
            # Frozen, they are left out of collections.
            gc.collect()
            gc.freeze()
            self._models_loaded.set()

    async def __aexit__(self, *exc: Any) -> None:
        assert self._group is not None
        for live in list(self._active.values()):
            self._cancel(live)
        with anyio.move_on_after(SHUTDOWN_GRACE_S, shield=True):
            for live in list(self._active.values()):
                await live.done.wait()
        self._group.cancel_scope.cancel()
        try:
            await self._group.__aexit__(*exc)
        finally:
            self._group = None
            self.gc.__exit__(None, None, None)

    # -- runs -------------------------------------------------------------------------------

    async def submit(
        self,
        source: ProcedureSource,
        inputs: dict[str, Any],
        *,
        model: str | None = None,
        mock: bool = False,
        tags: dict[str, Any] | None = None,
    ) -> LiveRun:
        """Check and start (or queue) a run. Raises ``TideError`` for the user's mistakes
        (syntax, declarations, inputs, a model without credentials) before anything starts."""
        if self._group is None:
            raise RuntimeError("the run manager is not running")
        refuse_read_only(self.store, "a new run")
        if not mock:
            # Checking a real model's credentials imports the modules being loaded.
            await self._models_loaded.wait()
        run_id = uuid.uuid4().hex[:12]
        live = self._live(RunRecord(id=run_id, procedure=source.display_name, mock=mock))
        # The watchers first, for each chunk to reach them at once; the run's end, which they
        # get once the store has it, the store is given in the same step.
        handlers: list[LogHandler] = [live, StoreHandler(self.store)]
        run: Run | ExecutorRun
        if self.executors is not None:
            # In a process of its own, which can be killed whatever its Lua is doing.
            live.run = run = ExecutorRun(
                self.executors,
                self.runtime,
                source,
                inputs,
                handlers=handlers,
                mock=mock,
                model=model,
                run_id=run_id,
                tags=tags,
            )
            await run.prepare()
            named = run.models
        else:
            live.run = run = in_process = self.runtime.create_run(
                source, inputs, handlers=handlers, mock=mock, model=model, run_id=run_id, tags=tags
            )
            info = await in_process.prepare()
            named = sorted({a.model for a in info.agents if a.model})
        record = live.record
        record.inputs = dict(run.inputs)
        record.tags = dict(run.tags)
        record.model = run.model_override or ", ".join(named) or None
        self._launch(live, record=True)
        return live

    async def resume(self, run_id: str) -> LiveRun:
        """Resume a stored run (interrupted, or just answered) in this server, in the channel
        its watchers may still follow. Raises ``TideError``s for a run that cannot be resumed."""
        if self._group is None:
            raise RuntimeError("the run manager is not running")
        refuse_read_only(self.store, "a resumed run")
        await self._models_loaded.wait()
        known = self.get(run_id)
        if known is not None and not known.done.is_set() and known.record.parked:
            # Its end (or its question) is in, and the server is letting it go: an answer given
            # the moment the question shows waits for that, rather than being refused.
            with anyio.move_on_after(SHUTDOWN_GRACE_S):
                await known.done.wait()
        if known is not None and not known.done.is_set():
            raise NotResumable(f"run '{run_id}' is running in this server")
        record = await self.store.get_run(run_id)
        if record is None:
            raise UnknownRun(f"no run '{run_id}'")
        if known is not None and not known.channel.finished:
            # Its watchers stay on its channel: it gets what was stored since (an answer).
            for event in await self.store.read_events(run_id, after=known.channel.last_seq):
                known.channel.log(event)
            live = known
            live.record, live.done = record, anyio.Event()
        else:
            live = self._live(record, await self.store.last_seq(run_id))
        handlers: list[LogHandler] = [live, StoreHandler(self.store)]
        answered = record.status == "running"
        if self.executors is not None:
            live.run = await self._resume_in_executor(run_id, answered, handlers)
        else:
            live.run = await open_resumed_run(
                self.runtime, self.store, run_id, answered=answered, handlers=handlers
            )
        record.status, record.error, record.finished_at = "queued", None, None
        self._parked.pop(run_id, None)
        self._unstored.pop(run_id, None)
        self._launch(live, record=False)
        return live

    def _live(self, record: RunRecord, stored_through: int = 0) -> LiveRun:
        run_id = record.id

        async def stored(after: int) -> list[Event]:
            return await self.store.read_events(run_id, after=after)

        channel = RunChannel(
            run_id, max_backlog=self.max_backlog, stored=stored, stored_through=stored_through
        )
        live = LiveRun(record, channel)
        live.stored = lambda seq: self._stored(run_id, seq)
        live.let_go = lambda: self._let_go(live)
        return live

    def _let_go(self, live: LiveRun) -> None:
        if self._group is not None:
            self._group.start_soon(self._release_stored, live)

    async def _release_stored(self, live: LiveRun) -> None:
        """Let go of the events of a running run that the store has."""
        try:
            through = await self.store.last_seq(live.id)
            if not live.channel.finished:
                live.channel.release(through)
        finally:
            live.releasing = False

    async def _resume_in_executor(
        self, run_id: str, answered: bool, handlers: list[LogHandler]
    ) -> ExecutorRun:
        """The stored run, checked here (none of its code runs in this process), its top level
        read in an executor, and marked running as an in-process resume marks it."""
        assert self.executors is not None
        plan = await plan_resume(self.store, run_id, answered=answered)
        run = ExecutorRun(
            self.executors,
            self.runtime,
            plan.source,
            plan.spec.get("inputs") or {},
            handlers=handlers,
            mock=bool(plan.spec.get("mock")),
            model=plan.spec.get("model"),
            timeout_s=plan.spec.get("timeout_s"),
            run_id=plan.record.id,
            resume=True,
            stored_through=plan.stored_through,
        )
        await run.prepare()
        self.store.resume_record(plan.record)
        return run

    def _launch(self, live: LiveRun, *, record: bool) -> None:
        assert self._group is not None
        try:
            self._slots.acquire_nowait()
            live.holds_slot = True
            live.record.status = "running"
        except anyio.WouldBlock:
            pass
        self._active[live.id] = live
        if record:
            self.store.record_run(live.record)
        self._group.start_soon(self._drive, live)

    def get(self, run_id: str) -> LiveRun | None:
        return self._active.get(run_id) or self._parked.get(run_id) or self._unstored.get(run_id)

    def recent(self) -> list[LiveRun]:
        """Runs in progress and the ended runs still in memory."""
        return [*self._active.values(), *self._parked.values(), *self._unstored.values()]

    def cancel(self, run_id: str) -> LiveRun | None:
        live = self.get(run_id)
        if live is not None and not live.record.finished:
            self._cancel(live)
        return live

    def _cancel(self, live: LiveRun) -> None:
        if live.done.is_set():
            return
        live.run.cancel()
        if live.queue_scope is not None:
            live.queue_scope.cancel()

    async def _drive(self, live: LiveRun) -> None:
        try:
            if not live.holds_slot:
                with anyio.CancelScope() as scope:
                    live.queue_scope = scope
                    await self._slots.acquire()
                    live.holds_slot = True
                live.queue_scope = None
            if isinstance(live.run, ExecutorRun):
                # An executor records the run itself: the row this server wrote for it must be
                # in the store first, or, written after, it would take the run back to its start.
                await self.store.flush()
            # A run cancelled while queued still executes: it ends at once with run_cancelled.
            await live.run.execute()
        except Exception:
            log.exception("run %s failed inside the server", live.id)
        finally:
            with anyio.CancelScope(shield=True):
                await self._finish(live)

    async def _finish(self, live: LiveRun) -> None:
        if live.holds_slot:
            live.holds_slot = False
            self._slots.release()
        if not live.channel.finished and live.record.status != "waiting":
            # Every stream must end: a run that broke without its terminal event gets one.
            event = RunFailedEvent(
                run_id=live.id,
                seq=live.channel.last_seq + 1,
                error=ErrorInfo(kind="internal", message="the run stopped unexpectedly"),
                totals=live.run.totals,
            )
            self.store.record_event(event)
            ending = live.log(event)
            if ending is not None:
                await ending
        stored = False
        with anyio.move_on_after(SHUTDOWN_GRACE_S):
            stored = await self._stored(live.id, live.channel.last_seq)
        self._active.pop(live.id, None)
        if stored:
            live.channel.release()
            if not live.channel.finished:
                self._parked[live.id] = live
        else:
            # A store that cannot keep up (or write): the latest such runs stay for reconnects.
            log.warning("the store lacks events of run %s: they stay in memory", live.id)
            self._unstored[live.id] = live
            while len(self._unstored) > UNSTORED_KEPT:
                self._unstored.popitem(last=False)
        # The run refers to this LiveRun (a handler of its), which refers back to it: a cycle
        # that only a full collection would free. Broken here, the run is freed at once, as
        # far as its own structure allows.
        live._run = None
        self.gc.run_finished()
        live.done.set()

    async def _stored(self, run_id: str, seq: int) -> bool:
        """Wait until the store has the run's events through ``seq`` (an executor records its
        own, from its process)."""
        await self.store.flush()
        while await self.store.last_seq(run_id) < seq:
            await anyio.sleep(STORE_WAIT_S)
        return True
