"""Typed events: the contract between the runtime, its log handlers, the IDE and the frontend.

Every event has ``type`` (the discriminator), ``run_id``, ``seq`` (1, 2, 3… within a run) and
``ts`` (UTC). ``parse_event`` turns JSON (or a dict) back into the right class, and
``event_json_schema`` is what ``tide events --schema`` prints.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal, TypeAlias, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, computed_field, model_validator

Stage = Literal["started", "completed", "failed"]
LogLevel = Literal["debug", "info", "warn", "error"]


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Model(BaseModel):
    # Built on first use: a run uses a few of the event types, and building each costs a
    # process's start-up milliseconds.
    model_config = ConfigDict(extra="forbid", defer_build=True)


class RunTotals(_Model):
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    duration_ms: float = 0.0
    agent_turns: int = 0
    llm_calls: int = 0
    tool_calls: int = 0

    def add_turn(self, cost: CostEvent) -> None:
        """Count an agent turn's usage, from its ``cost`` event."""
        self.prompt_tokens += cost.prompt_tokens
        self.completion_tokens += cost.completion_tokens
        self.total_tokens += cost.total_tokens
        self.cost_usd += cost.cost_usd
        self.llm_calls += cost.llm_calls
        self.agent_turns += 1


class ErrorInfo(_Model):
    """What went wrong, where, and what to do about it."""

    kind: str
    message: str
    file: str | None = None
    line: int | None = None
    hint: str | None = None
    # What the component that failed said, word for word (a provider's error), for --debug.
    detail: str | None = None

    def location(self) -> str | None:
        if self.file is None:
            return None
        return f"{self.file}:{self.line}" if self.line is not None else self.file


class ValidationIssue(_Model):
    path: str
    message: str


class _EventBase(_Model):
    run_id: str
    seq: int
    ts: datetime = Field(default_factory=utc_now)


class RunStartedEvent(_EventBase):
    type: Literal["run_started"] = "run_started"
    procedure: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    # The run goes on after a stop (``tide runs resume``): its earlier events, up to the
    # ``run_failed`` that ended them, come before this one, under the same run id.
    resumed: bool = False


class RunCompletedEvent(_EventBase):
    type: Literal["run_completed"] = "run_completed"
    output: Any = None
    totals: RunTotals = Field(default_factory=RunTotals)


class RunFailedEvent(_EventBase):
    type: Literal["run_failed"] = "run_failed"
    error: ErrorInfo
    partial_text: str | None = None
    output: Any = None
    totals: RunTotals = Field(default_factory=RunTotals)


class RunCancelledEvent(_EventBase):
    type: Literal["run_cancelled"] = "run_cancelled"
    reason: str = "cancelled"
    partial_text: str | None = None
    totals: RunTotals = Field(default_factory=RunTotals)


class AgentTurnEvent(_EventBase):
    type: Literal["agent_turn"] = "agent_turn"
    agent: str
    turn: int
    stage: Stage
    model: str | None = None
    duration_ms: float | None = None
    # From the turn's start to its first text, tool rounds before it included: what a person
    # waits for (``time_to_first_token_ms`` on ``cost`` is the model call's own).
    first_visible_token_ms: float | None = None
    text: str | None = None
    error: ErrorInfo | None = None


class TextBuffer:
    """The text of one streaming turn, shared by all of its chunk events.

    Chunk events refer to it instead of each holding a copy of the text so far, so keeping
    every event of a long answer costs memory linear in the answer, not quadratic.
    """

    __slots__ = ("_chunks", "_joined", "_length")

    def __init__(self) -> None:
        self._chunks: list[str] = []
        self._joined = ""
        self._length = 0

    def append(self, text: str) -> int:
        """Add ``text``; return the offset at which it starts."""
        offset = self._length
        self._chunks.append(text)
        self._length += len(text)
        return offset

    def __len__(self) -> int:
        return self._length

    def text(self, end: int | None = None) -> str:
        if len(self._joined) != self._length:
            self._joined = "".join(self._chunks)
            self._chunks = [self._joined]
        return self._joined if end is None or end >= self._length else self._joined[:end]


class AgentStreamChunkEvent(_EventBase):
    type: Literal["agent_stream_chunk"] = "agent_stream_chunk"
    agent: str
    turn: int
    chunk_text: str
    offset: int

    _accumulated: str | TextBuffer | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _take_accumulated(cls, data: Any, handler: Any) -> AgentStreamChunkEvent:
        accumulated = None
        if isinstance(data, dict) and "accumulated_text" in data:
            data = dict(data)
            accumulated = data.pop("accumulated_text")
        event: AgentStreamChunkEvent = handler(data)
        if accumulated is not None:
            event._accumulated = accumulated
        return event

    @classmethod
    def from_buffer(
        cls, buffer: TextBuffer, chunk_text: str, offset: int, **fields: Any
    ) -> AgentStreamChunkEvent:
        event = cls(chunk_text=chunk_text, offset=offset, **fields)
        event._accumulated = buffer
        return event

    @computed_field  # type: ignore[prop-decorator]
    @property
    def accumulated_text(self) -> str:
        """The turn's text up to and including this chunk."""
        end = self.offset + len(self.chunk_text)
        source = self._accumulated
        if isinstance(source, TextBuffer):
            return source.text(end)
        if isinstance(source, str):
            return source
        return self.chunk_text if self.offset == 0 else ""


class ToolCallEvent(_EventBase):
    type: Literal["tool_call"] = "tool_call"
    agent: str | None = None
    turn: int | None = None
    tool: str
    call_id: str
    stage: Stage
    args: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    error: str | None = None
    duration_ms: float | None = None


class CostEvent(_EventBase):
    type: Literal["cost"] = "cost"
    agent: str
    turn: int
    model: str
    provider: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    duration_ms: float = 0.0
    time_to_first_token_ms: float | None = None
    # From the turn's start to its first text, tool rounds before it included.
    first_visible_token_ms: float | None = None
    chunks: int = 0
    finish_reason: str | None = None
    streamed: bool = True
    # The tokens (and so the cost) are Tide's count from the text sent and received, because
    # the provider reported none: the stream was stopped or cut, or its usage was impossible.
    usage_estimated: bool = False
    cached: bool = False
    llm_calls: int = 1


class ModelPredictionEvent(_EventBase):
    """A ``Model``'s prediction (Classify's llm method predicts once per attempt)."""

    type: Literal["model_prediction"] = "model_prediction"
    model: str
    call: int
    stage: Stage
    backend: str
    input: Any = None
    output: Any = None
    mocked: bool = False
    cost_usd: float = 0.0
    duration_ms: float | None = None
    error: str | None = None


class OutputValidationEvent(_EventBase):
    type: Literal["output_validation"] = "output_validation"
    target: str
    ok: bool
    errors: list[ValidationIssue] = Field(default_factory=list)
    raw: Any = None
    # An agent's structured answer is checked at every attempt: 1, 2, ...; an attempt that
    # failed and was asked again is ``retried``.
    attempt: int = 1
    retried: bool = False


HumanKind = Literal["approve", "input", "select", "review", "multiple"]
HumanFieldKind = Literal["approve", "input", "select", "review"]
AnsweredBy = Literal["person", "default", "mock"]


class HumanField(BaseModel):
    """One field of a ``multiple`` request (``Human.multiple``/``Human.inputs``): its answer is
    the value under ``id`` in the request's one answer."""

    model_config = ConfigDict(defer_build=True)

    id: str
    label: str = ""
    message: str = ""
    type: HumanFieldKind = "input"
    options: list[Any] = Field(default_factory=list)
    default: Any = None
    required: bool = True
    # A select's: one option, or a list of them.
    mode: Literal["single", "multiple"] = "single"


class HumanRequestEvent(_EventBase):
    """The procedure asks a person (``Human.approve/input/select/review``), or asks several
    fields at once (``Human.multiple``: kind ``multiple``, answered by an object keyed by the
    fields' ids)."""

    type: Literal["human_request"] = "human_request"
    request_id: str
    kind: HumanKind
    message: str = ""
    options: list[Any] = Field(default_factory=list)
    default: Any = None
    timeout_s: float | None = None
    fields: list[HumanField] = Field(default_factory=list)


class HumanResponseEvent(_EventBase):
    """The answer to a ``human_request``: from a person, the request's default, or a mock."""

    type: Literal["human_response"] = "human_response"
    request_id: str
    value: Any = None
    answered_by: AnsweredBy = "person"


class LogEvent(_EventBase):
    type: Literal["log"] = "log"
    level: LogLevel
    message: str
    fields: dict[str, Any] = Field(default_factory=dict)
    source: str | None = None


class SystemAlertEvent(_EventBase):
    """``System.alert{message, level, source, context}``: an operational alert from a procedure."""

    type: Literal["system_alert"] = "system_alert"
    level: Literal["info", "warning", "error", "critical"]
    message: str
    source: str | None = None
    context: dict[str, Any] = Field(default_factory=dict)


Event: TypeAlias = Annotated[
    RunStartedEvent
    | RunCompletedEvent
    | RunFailedEvent
    | RunCancelledEvent
    | AgentTurnEvent
    | AgentStreamChunkEvent
    | ToolCallEvent
    | CostEvent
    | ModelPredictionEvent
    | OutputValidationEvent
    | HumanRequestEvent
    | HumanResponseEvent
    | LogEvent
    | SystemAlertEvent,
    Field(discriminator="type"),
]

# Both derived from ``Event``, the one list of event classes.
EVENT_TYPES: tuple[type[_EventBase], ...] = get_args(get_args(Event)[0])
EVENT_KINDS: tuple[str, ...] = tuple(cls.model_fields["type"].default for cls in EVENT_TYPES)
# The events a run ends with, exactly one per run; each is named ``run_<status>`` after the
# run's final status.
TERMINAL_EVENTS: tuple[type[_EventBase], ...] = (
    RunCompletedEvent,
    RunFailedEvent,
    RunCancelledEvent,
)
TERMINAL_TYPES = frozenset(cls.model_fields["type"].default for cls in TERMINAL_EVENTS)


@cache
def _adapter() -> TypeAdapter[Event]:
    return TypeAdapter(Event)


def parse_event(data: str | bytes | dict[str, Any]) -> Event:
    """Rebuild an event from its JSON (or a dict of it)."""
    if isinstance(data, (str, bytes)):
        return _adapter().validate_json(data)
    return _adapter().validate_python(data)


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema of every event as it is serialized."""
    return _adapter().json_schema(mode="serialization")


def event_schema_text() -> str:
    return json.dumps(event_json_schema(), indent=2)
