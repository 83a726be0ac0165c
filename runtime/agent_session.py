"""What a run and an agent's turns share: the agent's session (its client and conversation),
the limits a turn runs under, what a turn needs from its run, and what it returns to Lua."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from runtime.bus import EventBus
from runtime.config import RuntimeConfig
from runtime.declarations import AgentConfig, AgentDecl, ToolDecl
from runtime.events import CostEvent
from runtime.models.base import ModelClient


@dataclass(frozen=True)
class TurnLimits:
    first_token_timeout: float = 60.0
    idle_timeout: float = 60.0
    total_timeout: float | None = None
    retries: int = 2
    retry_backoff: float = 0.5
    max_tool_rounds: int = 16
    output_retries: int = 1
    # Repeat a call once without streaming when the provider or model cannot stream.
    stream_fallback: bool = True

    @classmethod
    def of(cls, config: AgentConfig, defaults: RuntimeConfig) -> TurnLimits:
        """An agent's own limits, else the runtime's."""
        return cls(
            first_token_timeout=config.first_token_timeout or defaults.first_token_timeout_s,
            idle_timeout=config.idle_timeout or defaults.idle_timeout_s,
            total_timeout=config.timeout,
            retries=defaults.retries if config.retries is None else config.retries,
            retry_backoff=defaults.retry_backoff_s,
            max_tool_rounds=config.max_tool_rounds or defaults.max_tool_rounds,
            output_retries=defaults.output_retries
            if config.output_retries is None
            else config.output_retries,
            stream_fallback=config.stream_fallback,
        )


class TurnServices(Protocol):
    """What a turn needs from its run."""

    bus: EventBus

    async def invoke_tool(self, tool: ToolDecl, arguments: dict[str, Any]) -> Any: ...

    def template_values(self) -> tuple[dict[str, Any], dict[str, Any]]: ...

    def note_usage(self, cost: CostEvent) -> None: ...

    def note_partial(self, text: str) -> None: ...


@dataclass
class AgentSession:
    """One agent within one run: its model client and its conversation so far."""

    decl: AgentDecl
    client: ModelClient
    model: str
    stream: bool
    limits: TurnLimits
    history: list[dict[str, Any]] = field(default_factory=list)
    turns: int = 0

    @property
    def name(self) -> str:
        return self.decl.name or f"agent{self.decl.id}"


@dataclass
class TurnResult:
    output: Any
    response: str
    usage: dict[str, int]
    cost: float
    turn: int
    tool_calls: list[dict[str, Any]]

    def to_lua_value(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "response": self.response,
            "message": self.response,
            "usage": self.usage,
            "cost": self.cost,
            "turn": self.turn,
            "tool_calls": self.tool_calls,
        }
