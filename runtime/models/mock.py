"""Answers from ``Mocks {}``: no network, but a real stream of chunks.

An agent's mock is ``{ message = ..., tool_calls = {{tool = ..., args = {...}}}, data = {...} }``,
optionally with ``temporal = { {...}, {...} }`` for successive turns (picked by
``when_message`` first, else by turn number, the last one repeating).

A tool's mock is ``{ returns = ... }``, ``{ temporal = {r1, r2} }`` (by call number, the last
repeating), ``{ conditional = {{ when = {arg = value}, returns = ... }} }`` (the first whose
``when`` matches the arguments: equal values, or ``"contains:x"``, ``"startswith:x"``,
``"endswith:x"`` for text) or ``{ error = "message" }`` (the call fails).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.lowlevel

from runtime.errors import ProcedureRuntimeError
from runtime.fields import Fields
from runtime.models.base import Finish, ModelItem, ModelRequest, TextDelta, ToolCallRequest, Usage

_PIECES = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True)
class MockReply:
    message: str | None = None
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()
    data: Any = None
    when_message: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> MockReply:
        if isinstance(raw, str):
            return cls(message=raw)
        if not isinstance(raw, dict):
            return cls(message=str(raw))
        calls = []
        for call in raw.get("tool_calls") or []:
            if isinstance(call, dict) and call.get("tool"):
                args = call.get("args") or {}
                if isinstance(args, str):
                    try:
                        args = json.loads(args)
                    except json.JSONDecodeError:
                        args = {"value": args}
                calls.append(
                    (str(call["tool"]), args if isinstance(args, dict) else {"value": args})
                )
        message = raw.get("message", raw.get("response"))
        return cls(
            message=None if message is None else str(message),
            tool_calls=tuple(calls),
            data=raw.get("data"),
            when_message=raw.get("when_message"),
        )

    def text(self) -> str:
        if self.data is not None and self.data != {} and self.data != []:
            return json.dumps(self.data, ensure_ascii=False)
        return self.message or ""


@dataclass
class AgentMock:
    """The replies one agent gives in mock mode."""

    replies: list[MockReply] = field(default_factory=list)

    @classmethod
    def parse(cls, raw: Any) -> AgentMock | None:
        if raw is None:
            return None
        if isinstance(raw, list):
            return cls([MockReply.parse(r) for r in raw])
        if isinstance(raw, dict):
            temporal = raw.get("temporal") or raw.get("turns")
            base = {k: v for k, v in raw.items() if k not in ("temporal", "turns")}
            replies = [MockReply.parse(r) for r in temporal] if isinstance(temporal, list) else []
            if any(k in base for k in ("message", "response", "tool_calls", "data")):
                replies = replies or [MockReply.parse(base)]
            return cls(replies) if replies else None
        return cls([MockReply.parse(raw)])

    def reply_for(self, turn: int, message: str | None) -> MockReply:
        for reply in self.replies:
            if reply.when_message is not None and reply.when_message == message:
                return reply
        ordered = [r for r in self.replies if r.when_message is None] or self.replies
        return ordered[min(turn, len(ordered)) - 1]


# What ``ToolMock.result`` returns when the mock has no answer for a call: the real tool runs.
NO_MOCK: Any = object()
_TOOL_MOCK_KEYS = ("returns", "temporal", "conditional", "error")


@dataclass(frozen=True)
class ToolMock:
    """How one tool answers in mock mode."""

    entry: dict[str, Any]

    @classmethod
    def parse(cls, raw: Any) -> ToolMock | None:
        if isinstance(raw, dict) and any(k in raw for k in _TOOL_MOCK_KEYS):
            return cls(raw)
        return None

    def result(self, args: dict[str, Any], call: int) -> Any:
        """The mocked result of call number ``call`` (from 1), or ``NO_MOCK``.

        Raises ``ProcedureRuntimeError`` for a mocked failure, as a failing tool function would."""
        conditional = self.entry.get("conditional")
        for case in conditional if isinstance(conditional, list) else []:
            if isinstance(case, dict) and _matches(case.get("when"), args):
                return _answer(case)
        temporal = self.entry.get("temporal")
        if isinstance(temporal, list) and temporal and "error" not in self.entry:
            return temporal[min(call, len(temporal)) - 1]
        return _answer(self.entry)


def _matches(when: Any, args: dict[str, Any]) -> bool:
    if not isinstance(when, dict):
        return when is None
    return all(k in args and _holds(args[k], v) for k, v in when.items())


# ``when = {text = "contains:refund"}``: operators Tactus mocks accept in a condition's value.
_OPERATORS = {
    "contains:": lambda actual, wanted: wanted in actual,
    "startswith:": lambda actual, wanted: actual.startswith(wanted),
    "endswith:": lambda actual, wanted: actual.endswith(wanted),
}


def _holds(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, str):
        for prefix, test in _OPERATORS.items():
            if wanted.startswith(prefix):
                return bool(test(str(actual), wanted[len(prefix) :].strip()))
    return bool(actual == wanted)


def _answer(case: dict[str, Any]) -> Any:
    if case.get("error") is not None:
        raise ProcedureRuntimeError(str(case["error"]))
    return case.get("returns", NO_MOCK)


def placeholder_data(fields: Fields) -> dict[str, Any]:
    """A value that satisfies declared output fields, for agents with no mock."""
    samples = {
        "string": "mock",
        "number": 0.0,
        "integer": 0,
        "boolean": False,
        "array": [],
        "object": {},
    }
    return {
        name: spec.enum[0]
        if spec.enum
        else spec.default
        if spec.default is not None
        else samples[spec.type]
        for name, spec in fields.items()
    }


class MockModelClient:
    """Streams an agent's mocked replies, a word at a time."""

    def __init__(
        self, agent: str, mock: AgentMock | None, model: str, output: Fields | None
    ) -> None:
        self._agent = agent
        self._mock = mock
        self._model = model
        self._output = output

    @property
    def model(self) -> str:
        return self._model

    @property
    def provider(self) -> str:
        return "mock"

    def _reply(self, request: ModelRequest) -> MockReply:
        if self._mock is not None and self._mock.replies:
            last_user = next(
                (m.get("content") for m in reversed(request.messages) if m.get("role") == "user"),
                None,
            )
            return self._mock.reply_for(request.turn, last_user)
        if self._output:
            return MockReply(data=placeholder_data(self._output))
        return MockReply(message=f"Mocked response from {self._agent}")

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelItem]:
        # A follow-up round (after tool results or an output retry) adds nothing new: the
        # mocked turn has said everything in its first round.
        if request.round > 1:
            yield Finish("stop", streamed=request.stream)
            return
        reply = self._reply(request)
        text = reply.text()
        if request.stream:
            for piece in _PIECES.findall(text):
                await anyio.lowlevel.checkpoint()
                yield TextDelta(piece)
        elif text:
            yield TextDelta(text)
        for index, (tool, args) in enumerate(reply.tool_calls):
            yield ToolCallRequest(
                id=f"mock_{request.turn}_{index}", name=tool, arguments=dict(args)
            )
        yield Usage()
        yield Finish("tool_calls" if reply.tool_calls else "stop", streamed=request.stream)
