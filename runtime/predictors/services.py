"""What a run gives its predictions: mocks, events, the event loop, and agent turns for
``type = "llm"`` models (streamed, costed and recorded like any agent's turn)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import anyio.from_thread

from runtime.declarations import AgentConfig, AgentDecl
from runtime.errors import DeclarationError
from runtime.events import ModelPredictionEvent
from runtime.journal import journaled
from runtime.predictors.model import ModelDecl
from runtime.predictors.predict import LlmReply

T = TypeVar("T")
_AGENT_SETTINGS = ("model", "provider", "temperature", "max_tokens", "api_base")


class RunPredictionServices:
    """``PredictionServices`` for a ``runtime.run.Run`` (typed loosely: it imports this)."""

    def __init__(self, run: Any) -> None:
        self._run = run
        self._agents: dict[int, AgentDecl] = {}

    @property
    def mock(self) -> bool:
        return bool(self._run.mock)

    @property
    def project_root(self) -> Path | None:
        root: Path | None = self._run.source.project_root
        return root

    def model_mock(self, name: str) -> Any:
        return self._run.host.mock_for(name) if self._run.host is not None else None

    def emit_prediction(self, **fields: Any) -> None:
        anyio.from_thread.run_sync(partial(self._run.bus.emit, ModelPredictionEvent, **fields))

    def wait(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        result: T = self._run._bridge.wait_for(function, *args)
        return result

    def warn(self, message: str) -> None:
        self._run.log("warn", message, {}, None)

    def add_cost(self, usd: float) -> None:
        self._run.totals.cost_usd += usd

    def journaled(self, name: str, payload: Any, compute: Callable[[], T]) -> T:
        # A prediction is journaled like an agent's turn: a resumed run does not ask again.
        return journaled(self._run, "prediction", name, payload, compute)

    def llm_turn(self, model: ModelDecl, config: dict[str, Any], message: str) -> LlmReply:
        agent = self._agents.get(model.id)
        if agent is None:
            settings = {k: config[k] for k in _AGENT_SETTINGS if config.get(k) is not None}
            prompt = config.get("system_prompt") or config.get("prompt") or ""
            agent = AgentDecl(
                model.id,
                AgentConfig(system_prompt=str(prompt), **settings),
                model.file,
                model.line,
                model.name,
            )
            self._agents[model.id] = agent
        # Every prediction is a conversation of its own.
        session = self._run._sessions.get(agent.id)
        if session is not None:
            session.history.clear()
        reply: LlmReply = self._run._bridge.wait_for(self._run._agent_turn, agent, [], message, {})
        return reply


class OfflinePredictionServices:
    """``PredictionServices`` once a run is over (custom spec steps): mocks and ``type = "mock"``
    models answer; models that need the network cannot."""

    mock = True

    def __init__(self, host: Any) -> None:
        self._host = host

    @property
    def project_root(self) -> Path | None:
        root: Path | None = self._host.source.project_root
        return root

    def model_mock(self, name: str) -> Any:
        return self._host.mock_for(name)

    def emit_prediction(self, **fields: Any) -> None:
        return None

    def wait(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        raise DeclarationError("custom steps cannot call http models: the run is over")

    def warn(self, message: str) -> None:
        return None

    def add_cost(self, usd: float) -> None:
        return None

    def journaled(self, name: str, payload: Any, compute: Callable[[], T]) -> T:
        return compute()

    def llm_turn(self, model: ModelDecl, config: dict[str, Any], message: str) -> LlmReply:
        raise DeclarationError(
            f"custom steps cannot call the llm model '{model.name}': the run is over",
            hint=f"mock it: Mocks {{ {model.name} = {{ returns = ... }} }}",
        )
