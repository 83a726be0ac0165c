"""What the scripted model server answers (replies, faults, the script that orders them, and
the plan of an answer to one request) and what it records."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from runtime.model_server.text import DefaultWriter, estimate_prompt_tokens, tokenize

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


class ToolCall(BaseModel):
    """A tool call the model makes. Arguments given as an object are sent as JSON text; a string
    is sent verbatim, which lets a test send arguments that are not valid JSON."""

    model_config = ConfigDict(extra="forbid")

    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    id: str | None = None


class Reply(BaseModel):
    """One answer of the script.

    The content is at most one of ``text``, ``json`` (any JSON value, sent as JSON text) and
    ``tokens`` (that many pieces of default text), followed by ``tool_calls``. With none of them
    the server writes its default text for the request. The remaining fields select the reply
    and inject faults; token counts in faults are counted in pieces sent.
    """

    model_config = ConfigDict(extra="forbid")

    match: str | None = None
    repeat: bool = False

    text: str | None = None
    data: Any = Field(default=None, alias="json")
    tokens: int | None = Field(default=None, ge=0)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: FinishReason | None = None

    status: int | None = Field(default=None, ge=400, le=599)
    error: str | None = None
    retry_after: float | None = Field(default=None, ge=0)
    stall_before_first_token: float = Field(default=0.0, ge=0)
    stall_after_tokens: int | None = Field(default=None, ge=0)
    stall_seconds: float = Field(default=0.0, ge=0)
    drop_after_tokens: int | None = Field(default=None, ge=0)
    malformed_after_tokens: int | None = Field(default=None, ge=0)
    tokens_per_second: float | None = Field(default=None, ge=0)
    # Providers that never report usage in a stream, and servers that answer a streaming
    # request with a whole JSON body, as some OpenAI-compatible ones do.
    send_usage: bool = True
    stream: bool = True

    @model_validator(mode="before")
    @classmethod
    def _text_shorthand(cls, value: Any) -> Any:
        # A bare string in a script file is the common case and reads better than {"text": ...}.
        return {"text": value} if isinstance(value, str) else value

    @field_validator("match")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _one_content(self) -> Reply:
        given = [name for name in ("text", "tokens") if getattr(self, name) is not None]
        if self.has_json:
            given.append("json")
        if len(given) > 1:
            raise ValueError(f"a reply takes at most one of text, json and tokens, got {given}")
        return self

    @property
    def has_json(self) -> bool:
        """Whether ``json`` was given; ``null`` is a valid JSON answer, so None is not enough."""
        return "data" in self.model_fields_set

    def matches(self, prompt: str) -> bool:
        return self.match is None or re.search(self.match, prompt) is not None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class Script(BaseModel):
    """Replies in order. A request takes the first reply that matches its last user message,
    looking first in ``models[<requested model>]`` and then in ``replies``; the reply is used up
    unless it has ``repeat``."""

    model_config = ConfigDict(extra="forbid")

    replies: list[Reply] = Field(default_factory=list)
    models: dict[str, list[Reply]] = Field(default_factory=dict)

    def take(self, model: str, prompt: str) -> Reply | None:
        for queue in (self.models.get(model, []), self.replies):
            for position, reply in enumerate(queue):
                if reply.matches(prompt):
                    if not reply.repeat:
                        del queue[position]
                    return reply
        return None

    def extend(self, other: Script) -> None:
        self.replies.extend(other.replies)
        for model, replies in other.models.items():
            self.models.setdefault(model, []).extend(replies)

    def to_json(self) -> dict[str, Any]:
        """The JSON form of the script, without the fields left at their defaults."""
        data: dict[str, Any] = {}
        if self.replies:
            data["replies"] = [reply.to_json() for reply in self.replies]
        models = {model: replies for model, replies in self.models.items() if replies}
        if models:
            data["models"] = {
                model: [reply.to_json() for reply in replies] for model, replies in models.items()
            }
        return data


class RequestRecord(BaseModel):
    """A chat completion request as the server received it."""

    index: int
    received_at: float
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    tool_choice: Any
    response_format: dict[str, Any] | None
    stream: bool
    stream_options: dict[str, Any] | None
    max_tokens: int | None
    scripted: bool = False
    body: dict[str, Any]


class StreamRecord(BaseModel):
    """How one answer was delivered. Times are the server's ``time.monotonic()``; a client in
    the same process can compare them with its own readings."""

    request_index: int
    stream: bool
    received_at: float
    first_content_at: float | None = None
    last_byte_at: float | None = None
    chunks_sent: int = 0
    tokens_sent: int = 0
    completed: bool = False
    dropped: bool = False
    client_disconnected: bool = False
    disconnect_noticed_at: float | None = None


class ChatRequest(BaseModel):
    """The parts of a chat completion request that shape the answer; other fields are allowed
    and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    response_format: dict[str, Any] | None = None

    @property
    def token_limit(self) -> int | None:
        return (
            self.max_completion_tokens
            if self.max_completion_tokens is not None
            else self.max_tokens
        )

    @property
    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))


@dataclass
class PlannedCall:
    """A tool call with its arguments split into the pieces to stream."""

    id: str
    name: str
    arguments: list[str]


@dataclass
class Answer:
    """The pieces an answer is made of; every piece, and every tool call's name, is a token."""

    content: list[str]
    tool_calls: list[PlannedCall]
    finish_reason: str
    prompt_tokens: int
    usage: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        completion = len(self.content) + sum(1 + len(c.arguments) for c in self.tool_calls)
        self.usage = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }


def plan_answer(request: ChatRequest, reply: Reply | None, index: int) -> Answer:
    writer = DefaultWriter(request.messages)
    reply = reply or Reply()
    if reply.text is not None:
        content = tokenize(reply.text)
    elif reply.has_json:
        content = tokenize(json.dumps(reply.data, ensure_ascii=False))
    elif reply.tokens is not None:
        content = writer.exact(reply.tokens)
    elif reply.tool_calls:
        content = []
    else:
        content = tokenize(_default_text(request, writer))
    calls = [
        PlannedCall(
            id=call.id or f"call_{index}_{position}",
            name=call.name,
            arguments=tokenize(
                call.arguments
                if isinstance(call.arguments, str)
                else json.dumps(call.arguments, ensure_ascii=False)
            ),
        )
        for position, call in enumerate(reply.tool_calls)
    ]
    finish = reply.finish_reason or ("tool_calls" if calls else "stop")
    answer = Answer(content, calls, finish, estimate_prompt_tokens(request.messages))
    if request.token_limit is None or answer.usage["completion_tokens"] <= request.token_limit:
        return answer
    limit = max(request.token_limit, 0)
    budget = limit - len(content[:limit])
    kept: list[PlannedCall] = []
    for call in calls:
        if budget <= 0:
            break
        kept.append(replace(call, arguments=call.arguments[: budget - 1]))
        budget -= 1 + len(kept[-1].arguments)
    return Answer(content[:limit], kept, "length", answer.prompt_tokens)


def _default_text(request: ChatRequest, writer: DefaultWriter) -> str:
    response_format = request.response_format or {}
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        return json.dumps(writer.value_for_schema(schema), ensure_ascii=False)
    if response_format.get("type") == "json_object":
        return json.dumps(writer.small_object(), ensure_ascii=False)
    return writer.answer()
