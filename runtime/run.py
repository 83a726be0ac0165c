"""One run of a procedure: inspect, check inputs, execute the Lua in its own thread, stream
events, and end with exactly one of ``run_completed``, ``run_failed`` or ``run_cancelled``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from functools import partial
from traceback import format_exc
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import anyio.from_thread
import anyio.to_thread

from runtime.agent import run_turn
from runtime.agent_session import AgentSession, TurnLimits, TurnResult
from runtime.bridge import LuaThreadBridge
from runtime.bus import EventBus
from runtime.config import RuntimeConfig
from runtime.declarations import AgentDecl, ToolDecl
from runtime.errors import (
    AgentError,
    DeclarationError,
    InternalError,
    OutputValidationError,
    TideError,
)
from runtime.events import (
    CostEvent,
    ErrorInfo,
    LogEvent,
    OutputValidationEvent,
    RunCancelledEvent,
    RunCompletedEvent,
    RunFailedEvent,
    RunTotals,
    ToolCallEvent,
)
from runtime.fields import check_output, coerce_inputs, placeholder_data
from runtime.handlers import LogHandler
from runtime.host import Host
from runtime.human import HumanResponder
from runtime.human_requests import ask_person
from runtime.inspect import ProcedureInfo, inspect_procedure
from runtime.journal import Journal, journaled_client
from runtime.library import toolsets
from runtime.library.run_effects import ForwardEvents, RunLibraryEffects
from runtime.models.base import ModelClient
from runtime.models.pricing import Price
from runtime.models.router import ModelOverrides, ModelRouter, ModelSettings
from runtime.predictors.model import ModelDecl
from runtime.predictors.predict import Predictor
from runtime.predictors.services import RunPredictionServices
from runtime.run_journal import invoke_tool_journaled, open_journal, start_journal
from runtime.run_result import RunResult, Status, tool_calls_of
from runtime.run_tags import check_tags
from runtime.sandbox import Sandbox
from runtime.source import ProcedureSource
from runtime.stream_fallback import listed

if TYPE_CHECKING:
    from runtime.store.base import ExecutionStore


class Run(RunLibraryEffects):
    """One run of a procedure. Usually made by ``Runtime.create_run`` or ``Runtime.run``.

    ``models`` replaces the client for model names: a mapping from a ``provider/model`` name
    to a ``ModelClient``, or a function from the name to a client (``None``: the usual one).
    The name looked up is the one the agent would use (``model``, else the agent's own). An
    overridden model needs no credentials and wins over mocks, so a ``FunctionModel`` can
    answer an agent in tests, with or without ``mock``. ``router`` turns the names into
    clients (``runtime.models.router``); ``limiter`` bounds the Lua threads of all runs.
    """

    def __init__(
        self,
        source: ProcedureSource,
        inputs: dict[str, Any] | None = None,
        *,
        router: ModelRouter,
        config: RuntimeConfig | None = None,
        limiter: anyio.CapacityLimiter | None = None,
        handlers: list[LogHandler] | None = None,
        mock: bool = False,
        model: str | None = None,
        timeout_s: float | None = None,
        run_id: str | None = None,
        inputs_from_strings: bool = False,
        human: HumanResponder | None = None,
        extra_mocks: dict[str, Any] | None = None,
        models: ModelOverrides | None = None,
        tags: Mapping[str, Any] | None = None,
        store: ExecutionStore | None = None,
        journal: Journal | None = None,
    ) -> None:
        super().__init__()
        self.config = config or RuntimeConfig()
        self.limiter = limiter or anyio.CapacityLimiter(self.config.max_lua_threads)
        self.router = router
        self.model_overrides = models
        self.source = source
        self.raw_inputs = dict(inputs or {})
        self.handlers = list(handlers or [])
        self.mock = mock
        self.models = router.for_run(model=model, models=models, mock=mock, mocks=self._mock_entry)
        self.model_override = self.models.override
        self.timeout_s = timeout_s or self.config.timeout_s
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.inputs_from_strings = inputs_from_strings
        self.human_responder = human or HumanResponder(mock=mock)
        self.extra_mocks = extra_mocks or {}
        self.tags = check_tags(tags)
        self.info: ProcedureInfo | None = None
        self.inputs: dict[str, Any] = {}
        self.bus = EventBus(self.run_id, self.handlers)
        self.journal, self.store_handler = open_journal(self.run_id, self.handlers, store, journal)
        self.pending: list[dict[str, Any]] = []
        self.totals = RunTotals()
        # Why the run is stopping: "cancelled" or "timeout"; a cancel's own words go with it.
        self._stop_reason: str | None = None
        self._cancel_reason = "cancelled"
        self._preparing: anyio.CancelScope | None = None
        self._sandbox: Sandbox | None = None
        self._host: Host | None = None
        self._bridge: LuaThreadBridge | None = None
        self._group: anyio.abc.TaskGroup | None = None
        self._lua_done = False
        self._sessions: dict[int, AgentSession] = {}
        self._partial_text: str | None = None
        self._started = time.monotonic()
        self._predictor: Predictor | None = None

    # -- public ---------------------------------------------------------------------------------

    async def prepare(self) -> ProcedureInfo:
        """Inspect the procedure and check the inputs. Raises for user mistakes, before any event."""
        if self.info is None:
            info = await anyio.to_thread.run_sync(
                partial(
                    inspect_procedure,
                    self.source,
                    timeout_s=min(self.config.inspect_timeout_s, self.timeout_s),
                    max_memory=self.config.max_memory,
                ),
                limiter=self.limiter,
            )
            self.inputs = coerce_inputs(
                info.inputs, self.raw_inputs, from_strings=self.inputs_from_strings
            )
            askers = [*info.agents, *info.llm_models]
            await self.models.check((a.model, a.api_base) for a in askers)
            self.info = info
        return self.info

    def model_client(self, model: str | None) -> ModelClient | None:
        """The client ``models`` gives for ``model``, if any."""
        return self.models.given(model)

    def _mock_entry(self, agent: str) -> Any:
        return self._host.mock_for(agent) if self._host is not None else None

    @property
    def host(self) -> Host | None:
        """The run's host once its Lua has started: after the run, its sandbox, state and tool
        calls are still there to inspect (``tide test`` runs custom steps in it)."""
        return self._host

    def where(self) -> tuple[str, int | None] | None:
        """Where the procedure's code was at the sandbox hook's latest tick, as (file, line);
        safe from any thread, and while its Lua is stuck in a call into C."""
        return None if self._sandbox is None else self._sandbox.last_seen

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop the run (thread-safe within the event loop); it ends with ``run_cancelled``
        giving ``reason``, at once, even while it is still being prepared."""
        self._stop("cancelled", reason)

    def _stop(self, kind: str, reason: str) -> None:
        if self._stop_reason is None:
            self._stop_reason = kind
            self._cancel_reason = reason
        if self._sandbox is not None:
            self._sandbox.abort(kind)
        if self._bridge is not None:
            self._bridge.wake()
        if self._preparing is not None:
            self._preparing.cancel()
        if self._group is not None:
            self._group.cancel_scope.cancel()

    async def execute(self) -> RunResult:
        info: ProcedureInfo | None = None
        with anyio.CancelScope() as self._preparing:
            if self._stop_reason is None:
                info = await self.prepare()
        self._preparing = None
        self._started = time.monotonic()
        async with anyio.create_task_group() as handler_group:
            self.bus.start(handler_group)
            try:
                await start_journal(self, self.journal)  # emits run_started
                if info is None:  # cancelled while being prepared
                    result = self._finish_cancelled()
                else:
                    result = await self._execute(info)
            finally:
                with anyio.CancelScope(shield=True):
                    await self.bus.close(handler_group)
        return result

    # -- the run --------------------------------------------------------------------------------

    async def _execute(self, info: ProcedureInfo) -> RunResult:
        output: Any = None
        error: TideError | None = None
        if self._stop_reason is not None:
            return self._finish_cancelled()
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                self._bridge = LuaThreadBridge(group, self._check_stopped)
                group.start_soon(self._deadline)
                try:
                    output = await anyio.to_thread.run_sync(
                        self._lua_main, info, limiter=self.limiter
                    )
                except TideError as exc:
                    error = exc
                except Exception as exc:
                    # A bug, not a user mistake: still end the run with a terminal event.
                    error = InternalError(f"{type(exc).__name__}: {exc}", detail=format_exc())
                finally:
                    group.cancel_scope.cancel()
        except BaseException as exc:
            if isinstance(exc, anyio.get_cancelled_exc_class()):
                with anyio.CancelScope(shield=True):
                    self._finish_cancelled("cancelled")
            raise
        if self.pending and self._stop_reason == "waiting":
            return self._result("waiting")
        self.bus.go_live()
        if self._stop_reason == "cancelled":
            return self._finish_cancelled()
        if error is None and info.outputs:
            checked, issues = check_output(info.outputs, output)
            self.bus.emit(
                OutputValidationEvent,
                target="procedure",
                ok=not issues,
                errors=issues,
                raw=None if not issues else output,
            )
            if issues:
                detail = "; ".join(f"{i.path}: {i.message}" for i in issues)
                error = OutputValidationError(
                    f"the procedure's output does not match its declared output: {detail}",
                    issues,
                    raw=output,
                )
            else:
                output = checked
        if error is not None:
            return self._finish_failed(error, output)
        self._close_totals()
        self.bus.emit(RunCompletedEvent, output=output, totals=self.totals)
        return self._result("completed", output=output)

    async def _deadline(self) -> None:
        try:
            await anyio.sleep(self.timeout_s)
        except BaseException:
            # The run is over, or being stopped from outside: make sure Lua stops too.
            if self._stop_reason is None and self._sandbox is not None and not self._lua_done:
                self._stop("cancelled", "cancelled")
            raise
        self._stop("timeout", "timeout")

    def _lua_main(self, info: ProcedureInfo) -> Any:
        """The run's Lua thread."""
        try:
            host = Host(
                self.source, self, mocks_enabled=self.mock, sandbox_factory=self._make_sandbox
            )
            self._host = host
            host.mock_overrides.update(self.extra_mocks)
            host.sandbox.set_inputs(host.to_lua(self.inputs))
            returned = host.execute_chunk()
            if info.mode == "script":
                return returned
            main = host.declarations.main_procedure()
            if main is None:
                raise DeclarationError("this file declares no procedure")
            return host.call_procedure(main, self.inputs)
        finally:
            self._lua_done = True

    def _make_sandbox(self, functions: dict[str, Any]) -> Sandbox:
        sandbox = Sandbox(
            functions, max_memory=self.config.max_memory, hook_interval=self.config.hook_interval
        )
        self._sandbox = sandbox
        if self._stop_reason is not None:
            sandbox.abort(self._stop_reason)
        return sandbox

    def _check_stopped(self) -> None:
        if self._sandbox is not None:
            self._sandbox.check()

    # -- endings ------------------------------------------------------------------------------

    def _close_totals(self) -> None:
        self.bus.go_live()  # the run's end is a new event, even before any live call
        earlier_ms = self.journal.earlier_ms if self.journal is not None else 0.0
        self.totals.duration_ms = earlier_ms + (time.monotonic() - self._started) * 1000

    def _finish_failed(self, error: TideError, output: Any) -> RunResult:
        self._close_totals()
        if isinstance(error, AgentError) and error.partial_text:
            self._partial_text = error.partial_text
        info = error.info()
        self.bus.emit(
            RunFailedEvent,
            error=info,
            partial_text=self._partial_text,
            output=output,
            totals=self.totals,
        )
        return self._result("failed", output=output, error=info)

    def _finish_cancelled(self, reason: str | None = None) -> RunResult:
        self._close_totals()
        reason = reason or self._cancel_reason
        self.bus.emit(
            RunCancelledEvent, reason=reason, partial_text=self._partial_text, totals=self.totals
        )
        message = "the run was cancelled" + ("" if reason == "cancelled" else f": {reason}")
        return self._result("cancelled", error=ErrorInfo(kind="cancelled", message=message))

    def _result(
        self, status: Status, *, output: Any = None, error: ErrorInfo | None = None
    ) -> RunResult:
        host = self._host
        return RunResult(
            run_id=self.run_id,
            status=status,
            output=output,
            error=error,
            partial_text=self._partial_text,
            totals=self.totals,
            event_counts=dict(self.bus.counts),
            state=dict(host.state.values) if host else {},
            tool_calls=tool_calls_of(host),
            agent_turns={s.name: s.turns for s in self._sessions.values()},
            pending=list(self.pending),
            stop_reason=host.library.control.stop_reason if host else None,
        )

    # -- effects: called on the Lua thread --------------------------------------------------------

    def agent_call(self, agent: AgentDecl, message: str | None, options: dict[str, Any]) -> Any:
        assert self._bridge is not None and self._host is not None
        self._host.live_tables.sync()  # prompts may read {state.x}
        tools = toolsets.agent_tools(self._host, agent, options.pop("tools", None))
        result: TurnResult = self._bridge.wait_for(self._agent_turn, agent, tools, message, options)
        self.last_outputs[agent.id] = result.response
        return result.to_lua_value()

    def log(self, level: str, message: str, fields: dict[str, Any], source: str | None) -> None:
        anyio.from_thread.run_sync(
            partial(
                self.bus.emit, LogEvent, level=level, message=message, fields=fields, source=source
            )
        )

    def tool_called(self, tool: ToolDecl, args: dict[str, Any]) -> Any:
        """A tool called directly from Lua (not by an agent)."""
        assert self._host is not None
        name = tool.name or f"tool{tool.id}"
        call_id = f"direct_{uuid.uuid4().hex[:8]}"
        self.totals.tool_calls += 1

        def emit(stage: str, **fields: Any) -> None:
            anyio.from_thread.run_sync(
                partial(
                    self.bus.emit,
                    ToolCallEvent,
                    tool=name,
                    call_id=call_id,
                    stage=stage,
                    args=args,
                    **fields,
                )
            )

        emit("started")
        started = time.monotonic()
        try:
            result = invoke_tool_journaled(self, tool, args)
        except TideError as exc:
            emit("failed", error=exc.message, duration_ms=(time.monotonic() - started) * 1000)
            raise
        emit("completed", result=result, duration_ms=(time.monotonic() - started) * 1000)
        return result

    def human(self, op: str, args: list[Any]) -> Any:
        return ask_person(self, op, args)

    def park(self) -> None:
        """Stop the Lua thread: the run waits for a person (see ``human_requests``)."""
        self._stop_reason = self._stop_reason or "waiting"
        if self._sandbox is not None:
            self._sandbox.abort("waiting")

    def predict(self, model: ModelDecl, payload: Any) -> Any:
        if self._predictor is None:
            self._predictor = Predictor(RunPredictionServices(self))
        return self._predictor.predict(model, payload)

    def nested_run(self, source: ProcedureSource, inputs: dict[str, Any]) -> Run:
        """A run of another file within this one (``Procedure.run``), on a Lua thread of its own
        (which callers waiting for their nested runs cannot all hold up)."""
        return Run(
            source, inputs, router=self.router, config=self.config,
            limiter=anyio.CapacityLimiter(1), handlers=[ForwardEvents(self)], mock=self.mock,
            model=self.model_override, timeout_s=self.remaining_time(), human=self.human_responder,
            extra_mocks=self.extra_mocks, models=self.model_overrides,
        )  # fmt: skip

    # -- effects: called in the event loop ----------------------------------------------------------

    async def _agent_turn(
        self, agent: AgentDecl, tools: list[ToolDecl], message: str | None, options: dict[str, Any]
    ) -> TurnResult:
        session = await self._session(agent)
        return await run_turn(session, self, tools, message, options)

    async def _session(self, agent: AgentDecl) -> AgentSession:
        session = self._sessions.get(agent.id)
        if session is not None:
            return session
        config = agent.config
        name = agent.name or f"agent{agent.id}"
        price = config.price
        settings = ModelSettings(
            api_base=config.api_base,
            price=None if price is None else Price.per_million(price.input, price.output),
        )
        placeholder = placeholder_data(config.output) if config.output else None
        client, model = await self.models.client(
            name, config.model_name, settings, placeholder=placeholder
        )
        client = journaled_client(self.journal, client)
        streaming = (
            bool(self.handlers)
            and self.config.streaming
            and not config.disable_streaming
            and not listed(model, self.config.non_streaming_models)
        )
        limits = TurnLimits.of(config, self.config)
        session = AgentSession(agent, client, model, streaming, limits, self.conversation(agent))
        self._sessions[agent.id] = session
        return session

    # -- TurnServices -------------------------------------------------------------------------

    async def invoke_tool(self, tool: ToolDecl, arguments: dict[str, Any]) -> Any:
        assert self._bridge is not None and self._host is not None
        self.totals.tool_calls += 1
        return await self._bridge.run_in_lua_thread(invoke_tool_journaled, self, tool, arguments)

    def template_values(self) -> tuple[dict[str, Any], dict[str, Any]]:
        state = self._host.state.values if self._host else {}
        return self.inputs, state

    def note_usage(self, cost: CostEvent) -> None:
        self.totals.add_turn(cost)
        self._check_alerts(cost)

    def _check_alerts(self, cost: CostEvent) -> None:
        session = next((s for s in self._sessions.values() if s.name == cost.agent), None)
        own = session.decl.config.alerts if session is not None else None
        for fields in self.config.alerts.merged(own).warnings(cost):
            self.bus.emit(LogEvent, **fields)

    def note_partial(self, text: str) -> None:
        if text:
            self._partial_text = text
