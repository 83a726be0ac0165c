"""Agents' answers from ``Mocks {}``: no network, but a real stream of chunks.

An agent's mock is ``{ message = ..., tool_calls = {{tool = ..., args = {...}}}, data = {...} }``,
optionally with ``temporal = { {...}, {...} }`` for successive turns (picked by
``when_message`` first, else by turn number, the last one repeating).
(Tools' mocks are the DSL's business: ``runtime.tool_mocks``.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from runtime.models.base import Finish, ModelItem, ModelRequest, ToolCallRequest, Usage
from runtime.models.function import FunctionModel, text_deltas


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


def mock_model(agent: str, entry: Any, model: str, placeholder: Any = None) -> FunctionModel:
    """A ``FunctionModel`` that answers ``agent`` from its ``Mocks {}`` entry (``entry``), else
    with ``placeholder`` (data matching a declared output), else with a fixed sentence."""
    mock = AgentMock.parse(entry)

    def reply_for(request: ModelRequest) -> MockReply:
        if mock is not None and mock.replies:
            last_user = next(
                (m.get("content") for m in reversed(request.messages) if m.get("role") == "user"),
                None,
            )
            return mock.reply_for(request.turn, last_user)
        if placeholder is not None:
            return MockReply(data=placeholder)
        return MockReply(message=f"Mocked response from {agent}")

    def answer(request: ModelRequest) -> list[ModelItem]:
        # A follow-up round (after tool results or an output retry) adds nothing new: the
        # mocked turn has said everything in its first round. Mocks cost nothing.
        if request.round > 1:
            return [Usage(), Finish("stop", streamed=request.stream)]
        reply = reply_for(request)
        items: list[ModelItem] = list(text_deltas(reply.text(), request.stream))
        items.extend(
            ToolCallRequest(id=f"mock_{request.turn}_{index}", name=tool, arguments=dict(args))
            for index, (tool, args) in enumerate(reply.tool_calls)
        )
        items.append(Usage())
        items.append(Finish("tool_calls" if reply.tool_calls else "stop", streamed=request.stream))
        return items

    return FunctionModel(answer, model=model, provider="mock", keep_requests=False)
