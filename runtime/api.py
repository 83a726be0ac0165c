"""Running procedures from Python.

    async with Runtime() as runtime:
        result = await runtime.run("procedures/hello.tac", {"name": "Ada"}, handlers=[...])

or, for one run, ``await run_procedure(...)``; ``run_procedure_sync`` for scripts without an
event loop. A ``Runtime`` owns what runs share: the Lua thread limiter and the model router
(``runtime.models.router``), whose servers (the scripted model server, the local model) start
on demand and stop when the runtime closes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Unpack, cast

import anyio

from runtime.callbacks import CallbackOptions, callback_handlers
from runtime.config import RuntimeConfig
from runtime.errors import ConfigurationError
from runtime.handlers import LogHandler
from runtime.human import HumanResponder
from runtime.inspect import ProcedureInfo
from runtime.lifetime import Lifetime
from runtime.models.providers import ServerOptions
from runtime.models.router import ModelOverrides, ModelRouter
from runtime.run import Run, RunResult
from runtime.source import ProcedureSource
from runtime.store.handler import StoreHandler
from runtime.streaming import RunStream, start_stream
from runtime.telemetry import telemetry_handler

if TYPE_CHECKING:
    from runtime.model_server import ScriptedModelServer
    from runtime.store.base import ExecutionStore


class RunOptions(CallbackOptions, total=False):
    """What ``Runtime.run`` and ``Runtime.stream`` take besides the procedure and its inputs
    (``Run`` explains each)."""

    handlers: list[LogHandler] | None
    mock: bool
    model: str | None
    timeout_s: float | None
    run_id: str | None
    inputs_from_strings: bool
    human: HumanResponder | None
    models: ModelOverrides | None
    tags: dict[str, Any] | None


def _run_arguments(options: Mapping[str, Any]) -> dict[str, Any]:
    """``Run``'s arguments for ``options``: the callbacks (``on_*``, an unknown one refused by
    name) become handlers after the others."""
    arguments = {k: v for k, v in options.items() if not k.startswith("on_")}
    callbacks = cast(CallbackOptions, {k: v for k, v in options.items() if k.startswith("on_")})
    arguments["handlers"] = [*(options.get("handlers") or []), *callback_handlers(callbacks)]
    return arguments


class Runtime(Lifetime):
    """What runs share. With a ``store`` (an ``ExecutionStore``), every run is recorded there
    and is durable: ``resume`` takes up an interrupted one and ``answer`` a waiting one."""

    def __init__(
        self, config: RuntimeConfig | None = None, *, store: ExecutionStore | None = None
    ) -> None:
        super().__init__()
        self.config = config or RuntimeConfig.from_env()
        self.store = store
        self.limiter = anyio.CapacityLimiter(self.config.max_lua_threads)
        self.router = ModelRouter(
            default_model=self.config.model,
            options=ServerOptions(scripted_script=self.config.scripted_script),
        )
        # Runs started by ``stream`` go on in ``_services``, inside the router's lifetime.
        # Spans and metrics for every run when OTEL_* asks for them (see runtime.telemetry).
        self.telemetry = telemetry_handler()

    async def _open(self) -> None:
        await self._stack.enter_async_context(self.router)

    # -- runs -----------------------------------------------------------------------------------

    def create_run(
        self,
        procedure: str | os.PathLike[str] | ProcedureSource,
        inputs: dict[str, Any] | None = None,
        **options: Any,
    ) -> Run:
        """A run, not yet started: ``await run.execute()`` runs it and ``run.cancel()`` stops it."""
        source = (
            procedure if isinstance(procedure, ProcedureSource) else ProcedureSource.load(procedure)
        )
        if self.telemetry is not None:
            options["handlers"] = [*(options.get("handlers") or []), self.telemetry]
        if self.store is not None and "store" not in options:
            handlers = list(options.get("handlers") or [])
            if not any(isinstance(h, StoreHandler) for h in handlers):
                options["handlers"] = [*handlers, StoreHandler(self.store)]
        return Run(
            source, inputs, router=self.router, config=self.config, limiter=self.limiter, **options
        )

    async def run(
        self,
        procedure: str | os.PathLike[str] | ProcedureSource,
        inputs: dict[str, Any] | None = None,
        **options: Unpack[RunOptions],
    ) -> RunResult:
        """Run a procedure (a path or Lua source) to the end.

        ``models`` answers for model names with clients of your own, e.g.
        ``{"openai/gpt-4o-mini": FunctionModel(answer)}`` (see ``Run``). ``tags`` are
        ``key=value`` labels stored with the run (``tide runs --tag``) and put on its spans.

        Raises ``TideError`` subclasses for mistakes found before it starts (syntax, inputs,
        missing credentials); a run that starts always returns a ``RunResult``.

        ``on_chunk``, ``on_turn_start``, ``on_turn_end``, ``on_tool_call`` and ``on_tool_result``
        are called with the events of those moments (see ``runtime.callbacks``)."""
        return await self.create_run(procedure, inputs, **_run_arguments(options)).execute()

    def stream(
        self,
        procedure: str | os.PathLike[str] | ProcedureSource,
        inputs: dict[str, Any] | None = None,
        **options: Unpack[RunOptions],
    ) -> RunStream:
        """Start a run and return its events as an async iterator (a ``RunStream``):
        ``async for event in runtime.stream(...)``, then ``await stream.result()``.

        The run goes on in this runtime whatever the reader does: leaving the loop does not
        stop it, ``stream.cancel()`` does (and so does closing the runtime). Options as for
        ``run``."""
        run_id = options.get("run_id") or uuid.uuid4().hex[:12]
        arguments = _run_arguments({**options, "run_id": run_id})
        return start_stream(
            run_id,
            lambda stream: self.create_run(
                procedure, inputs, **{**arguments, "handlers": [*arguments["handlers"], stream]}
            ),
            self._services,
        )

    # -- durable runs ---------------------------------------------------------------------------

    async def resume(self, run_id: str, **options: Any) -> RunResult:
        """Resume an interrupted run from the journal in ``store`` (the runtime's by default).
        Options: ``handlers``, ``human``, ``models`` as for ``run``."""
        from runtime.resume import open_resumed_run

        run = await open_resumed_run(self, self._store(options), run_id, **options)
        return await run.execute()

    async def answer(
        self, run_id: str, request_id: str | None, value: Any, **options: Any
    ) -> RunResult:
        """Answer a waiting run's request (``request_id`` None: its only one), then resume it.
        Raises ``RequestMismatch`` when the run does not wait for that request."""
        from runtime.resume import answer_and_resume

        store = self._store(options)
        result: RunResult = await answer_and_resume(
            self, store, run_id, request_id, value, **options
        )
        return result

    def _store(self, options: dict[str, Any]) -> ExecutionStore:
        store = options.pop("store", None) or self.store
        if store is None:
            raise ConfigurationError(
                "this runtime keeps no store: there is no run to resume",
                hint="Runtime(store=SQLiteStore.for_workspace('.'))",
            )
        return store

    # -- models ---------------------------------------------------------------------------------

    async def check_models(self, info: ProcedureInfo, override: str | None) -> None:
        """Fail before any call when a provider's credentials are missing."""
        run_models = self.router.for_run(model=override)
        await run_models.check((a.model, a.api_base) for a in [*info.agents, *info.llm_models])

    async def scripted_server(self) -> ScriptedModelServer:
        """The in-process server ``scripted/<name>`` models talk to, started on first use: tests
        and benchmarks script its replies and read its records through it."""
        return await self.router.scripted_server()


async def run_procedure(
    procedure: str | os.PathLike[str] | ProcedureSource,
    inputs: dict[str, Any] | None = None,
    *,
    config: RuntimeConfig | None = None,
    **options: Any,
) -> RunResult:
    """Run one procedure in a runtime of its own. Options as for ``Runtime.run``."""
    async with Runtime(config) as runtime:
        return await runtime.run(procedure, inputs, **options)


def run_procedure_sync(
    procedure: str | os.PathLike[str] | ProcedureSource,
    inputs: dict[str, Any] | None = None,
    **options: Any,
) -> RunResult:
    """``run_procedure`` for code that has no event loop of its own."""
    return anyio.run(partial(run_procedure, procedure, inputs, **options))
