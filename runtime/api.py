"""Running procedures from Python.

    async with Runtime() as runtime:
        result = await runtime.run("procedures/hello.tac", {"name": "Ada"}, handlers=[...])

or, for one run, ``await run_procedure(...)``; ``run_procedure_sync`` for scripts without an
event loop. A ``Runtime`` owns what runs share: the Lua thread limiter and the model servers it
starts on demand (the scripted model server, the local model), which stop when it closes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from functools import partial
from typing import TYPE_CHECKING, Any, Unpack

import anyio
from anyio.abc import TaskGroup, TaskStatus

from runtime.callbacks import CallbackOptions, callback_handlers
from runtime.config import RuntimeConfig
from runtime.declarations import AgentConfig
from runtime.handlers import LogHandler
from runtime.human import HumanResponder
from runtime.inspect import ProcedureInfo
from runtime.models.base import ModelClient
from runtime.run import ModelOverrides, Run, RunResult
from runtime.source import ProcedureSource
from runtime.streaming import RunStream, start_stream
from runtime.telemetry import telemetry_handler

if TYPE_CHECKING:
    from runtime.model_server import ScriptedModelServer

if TYPE_CHECKING:
    from runtime.model_server import ScriptedModelServer

SCRIPTED_PREFIX = "scripted/"
LOCAL_PREFIX = "local/"


class Runtime:
    def __init__(self, config: RuntimeConfig | None = None) -> None:
        self.config = config or RuntimeConfig.from_env()
        self.limiter = anyio.CapacityLimiter(self.config.max_lua_threads)
        self._stack = AsyncExitStack()
        self._services: TaskGroup | None = None
        self._base_urls: dict[str, str] = {}
        self._scripted: ScriptedModelServer | None = None
        self._service_lock = anyio.Lock()
        # Spans and metrics for every run when OTEL_* asks for them (see runtime.telemetry).
        self.telemetry = telemetry_handler()

    async def __aenter__(self) -> Runtime:
        self._services = await self._stack.enter_async_context(anyio.create_task_group())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._services is not None:
            self._services.cancel_scope.cancel()
        await self._stack.aclose()
        self._services = None

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
        return Run(self, source, inputs, **options)

    async def run(
        self,
        procedure: str | os.PathLike[str] | ProcedureSource,
        inputs: dict[str, Any] | None = None,
        *,
        handlers: list[LogHandler] | None = None,
        mock: bool = False,
        model: str | None = None,
        timeout_s: float | None = None,
        run_id: str | None = None,
        inputs_from_strings: bool = False,
        human: HumanResponder | None = None,
        models: ModelOverrides | None = None,
        tags: dict[str, Any] | None = None,
        **callbacks: Unpack[CallbackOptions],
    ) -> RunResult:
        """Run a procedure (a path or Lua source) to the end.

        ``models`` answers for model names with clients of your own, e.g.
        ``{"openai/gpt-4o-mini": FunctionModel(answer)}`` (see ``Run``). ``tags`` are
        ``key=value`` labels stored with the run (``tide runs --tag``) and put on its spans.

        Raises ``TideError`` subclasses for mistakes found before it starts (syntax, inputs,
        missing credentials); a run that starts always returns a ``RunResult``.

        ``on_chunk``, ``on_turn_start``, ``on_turn_end``, ``on_tool_call`` and ``on_tool_result``
        are called with the events of those moments (see ``runtime.callbacks``)."""
        run = self.create_run(
            procedure,
            inputs,
            handlers=[*(handlers or []), *callback_handlers(callbacks)],
            mock=mock,
            model=model,
            timeout_s=timeout_s,
            run_id=run_id,
            inputs_from_strings=inputs_from_strings,
            human=human,
            models=models,
            tags=tags,
        )
        return await run.execute()

    def stream(
        self,
        procedure: str | os.PathLike[str] | ProcedureSource,
        inputs: dict[str, Any] | None = None,
        *,
        handlers: list[LogHandler] | None = None,
        mock: bool = False,
        model: str | None = None,
        timeout_s: float | None = None,
        run_id: str | None = None,
        inputs_from_strings: bool = False,
        human: HumanResponder | None = None,
        models: ModelOverrides | None = None,
        tags: dict[str, Any] | None = None,
        **callbacks: Unpack[CallbackOptions],
    ) -> RunStream:
        """Start a run and return its events as an async iterator (a ``RunStream``):
        ``async for event in runtime.stream(...)``, then ``await stream.result()``.

        The run goes on in this runtime whatever the reader does: leaving the loop does not
        stop it, ``stream.cancel()`` does (and so does closing the runtime). Options as for
        ``run``."""
        extra = [*(handlers or []), *callback_handlers(callbacks)]
        run_id = run_id or uuid.uuid4().hex[:12]
        return start_stream(
            run_id,
            lambda stream: self.create_run(
                procedure,
                inputs,
                handlers=[*extra, stream],
                mock=mock,
                model=model,
                timeout_s=timeout_s,
                run_id=run_id,
                inputs_from_strings=inputs_from_strings,
                human=human,
                models=models,
                tags=tags,
            ),
            self._services,
        )

    # -- models ---------------------------------------------------------------------------------

    async def check_models(self, info: ProcedureInfo, override: str | None) -> None:
        """Fail before any call when a provider's credentials are missing."""
        from runtime.models.routing import LOCAL_PROVIDERS, check_credentials, split_model

        models: list[tuple[str, str | None]]
        if override:
            models = [(override, None)]
        else:
            askers = [*info.agents, *info.llm_models]
            models = sorted({(a.model, a.api_base) for a in askers if a.model}, key=str)
        # LiteLLM checks the credentials of every provider but this machine's own servers.
        if any(split_model(model)[0] not in LOCAL_PROVIDERS for model, _ in models):
            await _load_model_libraries()
        for model, api_base in models:
            check_credentials(model, api_base)

    async def client_for(self, model: str, config: AgentConfig) -> ModelClient:
        from runtime.models.routing import make_client

        await _load_model_libraries()
        api_base = config.api_base
        if model.startswith(SCRIPTED_PREFIX):
            api_base = await self._service_url("scripted", self._serve_scripted)
        elif model.startswith(LOCAL_PREFIX):
            api_base = await self._service_url(
                model, partial(self._serve_local, model[len(LOCAL_PREFIX) :])
            )
        return make_client(model, config, api_base=api_base)

    async def scripted_server(self) -> ScriptedModelServer:
        """The in-process server ``scripted/<name>`` models talk to, started on first use: tests
        and benchmarks script its replies and read its records through it."""
        await self._service_url("scripted", self._serve_scripted)
        assert self._scripted is not None
        return self._scripted

    async def _service_url(self, key: str, serve: Callable[..., Awaitable[None]]) -> str:
        async with self._service_lock:
            if key not in self._base_urls:
                if self._services is None:
                    raise RuntimeError("use `async with Runtime() as runtime:` to run real models")
                self._base_urls[key] = await self._services.start(serve)  # type: ignore[arg-type]
            return self._base_urls[key]

    async def _serve_scripted(self, *, task_status: TaskStatus[str]) -> None:
        from runtime.model_server import ScriptedModelServer

        script = None
        if self.config.scripted_script:
            from pathlib import Path

            from runtime.model_server import Script

            script = Script.model_validate_json(
                Path(self.config.scripted_script).read_text("utf-8")
            )
        async with ScriptedModelServer(script) as server:
            self._scripted = server
            try:
                task_status.started(server.base_url)
                await anyio.sleep_forever()
            finally:
                self._scripted = None

    async def _serve_local(self, name: str, *, task_status: TaskStatus[str]) -> None:
        from runtime.models.local_server import LocalModelServer

        async with LocalModelServer() as server:
            task_status.started(server.api_base)
            await anyio.sleep_forever()


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


async def _load_model_libraries() -> None:
    """DSPy and LiteLLM, imported on first need in a worker thread: the import takes seconds,
    during which the event loop (an IDE's other streams and requests) goes on."""
    from runtime.models._dspy import configured, ensure_configured

    if not configured():
        await anyio.to_thread.run_sync(ensure_configured)
