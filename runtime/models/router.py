"""From a model name to a client: the one way in.

``ModelRouter`` belongs to a ``Runtime`` and owns what runs share: the servers of the
providers served on this machine (``providers.LOCAL_PROVIDERS``), started on first use and
stopped when the runtime closes, and the model libraries (DSPy, LiteLLM), loaded once, off the
event loop, on first need. ``RunModels`` is one run's view of it: the run's overrides
(``--model``, ``TIDE_MODEL``, ``models=``) and mocks, then credential checks before the run
starts and a client per agent while it runs.

The order in which a client is chosen for an agent, first match wins:

1. ``models=`` answers for the name (the override, else the agent's own model);
2. mocks are on: the agent's ``Mocks {}`` entry, streamed by a ``FunctionModel``;
3. a provider served on this machine: its server, through LiteLLM;
4. anything else: LiteLLM, with the agent's ``api_base`` and price.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import anyio
from anyio.abc import TaskStatus

from runtime.errors import ConfigurationError
from runtime.lifetime import Lifetime
from runtime.models.base import ModelClient
from runtime.models.mock import mock_model
from runtime.models.pricing import Price
from runtime.models.providers import (
    LocalProvider,
    Served,
    ServerOptions,
    load_script,
    served_here,
    split_model,
)

if TYPE_CHECKING:
    from runtime.model_server import ScriptedModelServer

# Clients that answer for given model names instead of the usual ones (see ``RunModels``).
ModelOverrides: TypeAlias = Mapping[str, ModelClient] | Callable[[str], ModelClient | None]
MOCK_MODEL = "mock"


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """What the provider layer needs from an agent's declaration to make its client."""

    api_base: str | None = None
    price: Price | None = None


def load_model_libraries() -> None:
    """Import and set up DSPy and LiteLLM now (idempotent): before an event loop runs (the
    warm worker), or in a worker thread (``ModelRouter.warm_up``)."""
    from runtime.models._dspy import ensure_configured

    ensure_configured()


class ModelRouter(Lifetime):
    """Turns model names into clients for the runs of one runtime. Use as an async context
    manager: the servers it starts stop when it exits."""

    def __init__(self, *, default_model: str | None = None, options: ServerOptions | None = None):
        super().__init__()
        self.default_model = default_model
        self.options = options or ServerOptions()
        self._served: dict[str, Served] = {}
        self._lock = anyio.Lock()

    def for_run(
        self,
        *,
        model: str | None = None,
        models: ModelOverrides | None = None,
        mock: bool = False,
        mocks: Callable[[str], Any] | None = None,
    ) -> RunModels:
        """One run's view: ``model`` overrides every agent's model (else ``default_model``),
        ``models`` answers for names, ``mock`` streams ``mocks(agent)`` entries."""
        return RunModels(self, model or self.default_model, models, mock, mocks)

    # -- the model libraries ------------------------------------------------------------------

    async def warm_up(self) -> None:
        """DSPy and LiteLLM, imported on first need in a worker thread: the import takes
        seconds, during which the event loop (an IDE's other streams and requests) goes on."""
        from runtime.models._dspy import configure_off_loop

        await configure_off_loop()

    # -- credentials --------------------------------------------------------------------------

    async def check(self, models: Iterable[tuple[str, str | None]]) -> None:
        """Fail before any call when a ``(model, api_base)``'s credentials are missing."""
        pairs = sorted(set(models), key=str)
        # LiteLLM checks the credentials of every provider but this machine's own servers.
        if any(served_here(split_model(model)[0]) is None for model, _ in pairs):
            await self.warm_up()
        for model, api_base in pairs:
            provider = split_model(model)[0]
            if provider == "scripted" and self.options.scripted_script:
                load_script(self.options.scripted_script)
            if served_here(provider) is not None:
                continue
            from runtime.models.credentials import missing_credentials, unknown_provider

            unknown_provider(provider)
            problem = missing_credentials(model, api_base)
            if problem:
                raise ConfigurationError(problem)

    # -- clients ------------------------------------------------------------------------------

    async def client(self, model: str, settings: ModelSettings | None = None) -> ModelClient:
        """The client that calls ``model`` (``provider/model``) through LiteLLM."""
        settings = settings or ModelSettings()
        provider, name = split_model(model)
        await self.warm_up()
        from runtime.models.llm import LLMClient
        from runtime.models.local_server import LOCAL_API_KEY

        local = served_here(provider)
        if local is not None:
            # An agent's api_base names another such server (`tide model-server` elsewhere).
            api_base = settings.api_base or (await self._serve(local)).api_base
            return LLMClient(
                model,
                litellm_model=f"openai/{name}",
                provider=provider,
                api_base=api_base,
                api_key=LOCAL_API_KEY,
            )
        return LLMClient(
            model,
            litellm_model=model,
            provider=provider,
            api_base=settings.api_base,
            price=settings.price,
        )

    async def scripted_server(self) -> ScriptedModelServer:
        """The in-process server ``scripted/<name>`` models talk to, started on first use:
        tests and benchmarks script its replies and read its records through it."""
        local = served_here("scripted")
        assert local is not None
        server: ScriptedModelServer = (await self._serve(local)).server
        return server

    async def served_api_base(self, model: str) -> str | None:
        """The address of the server on this machine that answers ``model`` (started if need
        be), or None when another machine does: an executor process calls the same one."""
        local = served_here(split_model(model)[0])
        return None if local is None else (await self._serve(local)).api_base

    def adopt(self, provider: str, api_base: str) -> None:
        """Use the server another process runs for ``provider`` instead of starting one."""
        self._served[provider] = Served(api_base, None)

    async def _serve(self, provider: LocalProvider) -> Served:
        async with self._lock:
            if provider.name not in self._served:
                if self._services is None:
                    raise RuntimeError("use `async with Runtime() as runtime:` to run real models")
                self._served[provider.name] = await self._services.start(self._run_server, provider)
            return self._served[provider.name]

    async def _run_server(
        self, provider: LocalProvider, *, task_status: TaskStatus[Served]
    ) -> None:
        try:
            async with provider.serve(self.options) as served:
                task_status.started(served)
                await anyio.sleep_forever()
        finally:
            self._served.pop(provider.name, None)


class RunModels:
    """The models of one run (see the module's docstring for the order of choice)."""

    def __init__(
        self,
        router: ModelRouter,
        override: str | None,
        models: ModelOverrides | None,
        mock: bool,
        mocks: Callable[[str], Any] | None,
    ) -> None:
        self.router = router
        self.override = override
        self.models = models
        self.mock = mock
        self.mocks = mocks

    def given(self, model: str | None) -> ModelClient | None:
        """The client ``models=`` gives for ``model``, if any."""
        if self.models is None or model is None:
            return None
        if callable(self.models):
            return self.models(model)
        return self.models.get(model)

    async def check(self, agents: Iterable[tuple[str | None, str | None]]) -> None:
        """Check credentials for the run's agents (``(model, api_base)`` pairs) before it
        starts. Mocked runs and models ``models=`` answers for need none."""
        if self.mock:
            return
        if self.override is not None:
            if self.given(self.override) is None:
                await self.router.check([(self.override, None)])
            return
        await self.router.check(
            (model, api_base) for model, api_base in agents if model and self.given(model) is None
        )

    async def client(
        self,
        agent: str,
        declared: str | None,
        settings: ModelSettings | None = None,
        *,
        placeholder: Any = None,
    ) -> tuple[ModelClient, str]:
        """The client for ``agent`` and the model name it reports. ``placeholder``: what a
        mocked agent with no ``Mocks {}`` entry answers (data matching its declared output)."""
        model = self.override or declared
        given = self.given(model)
        if model is not None and given is not None:
            return given, model
        if self.mock:
            entry = self.mocks(agent) if self.mocks is not None else None
            model = model or MOCK_MODEL
            return mock_model(agent, entry, model, placeholder), model
        if model is None:
            raise ConfigurationError(
                f"agent '{agent}' has no model",
                hint='set model = "provider/model" on the agent, or run with --model (e.g. --model local/smollm2)',
            )
        return await self.router.client(model, settings), model
