from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as the model sees it: name, description and a JSON Schema for its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(slots=True)
class ModelRequest:
    """One model call.

    ``messages`` are OpenAI-style chat messages (system first; assistant messages may carry
    ``tool_calls``; ``tool`` messages carry results). ``output_schema`` is set when the agent
    declares a structured ``output``: the answer must then be JSON matching it. ``turn`` counts
    the agent's calls in this run and ``round`` the model calls within the turn (tool rounds,
    output retries).
    """

    agent: str
    model: str
    messages: list[dict[str, Any]]
    tools: list[ToolSpec] = field(default_factory=list)
    output_schema: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    stream: bool = True
    cache: bool = False
    api_base: str | None = None
    api_key: str | None = None
    turn: int = 1
    round: int = 1


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer's text, exactly as the user should see it."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallRequest:
    """A complete tool call the model asked for."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens and cost of a call. ``estimated``: counted by Tide from the text sent and
    received, because the provider reported none (or an impossible count, said in ``note``)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    estimated: bool = False
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Finish:
    reason: str | None = None
    streamed: bool = True
    cached: bool = False


@dataclass(frozen=True, slots=True)
class CallTiming:
    """How long a model call took, in ms from its start: until its request left, until its
    first text (None: it had none) and until it ended. A durable run's journal keeps it."""

    sent_ms: float
    first_text_ms: float | None
    ended_ms: float


@dataclass(frozen=True, slots=True)
class RequestSent:
    """When the request left for the provider (``time.monotonic()``), after the client's own
    preparation: the start of the time to first token. Clients that cannot tell omit it.
    ``replayed``: the call is answered from a durable run's journal, at once; its timing is
    the one it had when it was made."""

    at: float
    replayed: CallTiming | None = None


ModelItem: TypeAlias = TextDelta | ToolCallRequest | Usage | Finish | RequestSent

ModelErrorKind = Literal[
    "http", "rate_limit", "connection", "timeout", "malformed", "auth", "config", "cancelled"
]


class ModelError(Exception):
    """A model call that failed. ``retryable`` errors may be retried before the first chunk."""

    def __init__(
        self,
        message: str,
        *,
        kind: ModelErrorKind = "http",
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        usage: Usage | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.usage = usage


class ModelClient(Protocol):
    """Makes model calls for one ``provider/model`` name."""

    @property
    def model(self) -> str: ...

    @property
    def provider(self) -> str: ...

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelItem]:
        """Yield the answer as it arrives: possibly ``RequestSent`` first, ``TextDelta``s and
        ``ToolCallRequest``s in order, then ``Usage`` (if known) and one ``Finish``. Raise ``ModelError`` on failure; usage
        already spent travels on the error."""
        ...
