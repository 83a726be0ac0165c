"""Callbacks for a run's moments: ``run_procedure(..., on_chunk=..., on_turn_end=...)``.

Each callback is called with the event of its moment and may be a plain function or an async
one. Each runs as a log handler of its own (see ``runtime.bus``): in order, off the run's path,
and a callback that raises is reported once, as a ``log`` event naming it (it is still called
for later events, as a failing handler is).

| option | called with | when |
|---|---|---|
| ``on_chunk`` | ``AgentStreamChunkEvent`` | each piece of an agent's streamed answer |
| ``on_turn_start`` | ``AgentTurnEvent`` (``stage="started"``) | an agent turn begins |
| ``on_turn_end`` | ``AgentTurnEvent`` (``completed`` or ``failed``) | an agent turn ends, with its text |
| ``on_tool_call`` | ``ToolCallEvent`` (``stage="started"``) | a tool is called, with its arguments |
| ``on_tool_result`` | ``ToolCallEvent`` (``completed`` or ``failed``) | a tool returns, with its result |
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypedDict

from runtime.events import AgentStreamChunkEvent, AgentTurnEvent, Event, ToolCallEvent

Callback = Callable[[Any], Awaitable[None] | None]


class CallbackOptions(TypedDict, total=False):
    on_chunk: Callable[[AgentStreamChunkEvent], Awaitable[None] | None] | None
    on_turn_start: Callable[[AgentTurnEvent], Awaitable[None] | None] | None
    on_turn_end: Callable[[AgentTurnEvent], Awaitable[None] | None] | None
    on_tool_call: Callable[[ToolCallEvent], Awaitable[None] | None] | None
    on_tool_result: Callable[[ToolCallEvent], Awaitable[None] | None] | None


def _is_chunk(event: Event) -> bool:
    return event.type == "agent_stream_chunk"


def _turn_started(event: Event) -> bool:
    return event.type == "agent_turn" and event.stage == "started"


def _turn_ended(event: Event) -> bool:
    return event.type == "agent_turn" and event.stage != "started"


def _tool_started(event: Event) -> bool:
    return event.type == "tool_call" and event.stage == "started"


def _tool_ended(event: Event) -> bool:
    return event.type == "tool_call" and event.stage != "started"


# Each option, and which events it is called with. Derived from ``CallbackOptions`` by a test.
SELECTORS: dict[str, Callable[[Event], bool]] = {
    "on_chunk": _is_chunk,
    "on_turn_start": _turn_started,
    "on_turn_end": _turn_ended,
    "on_tool_call": _tool_started,
    "on_tool_result": _tool_ended,
}


class CallbackHandler:
    """A log handler that calls ``callback`` with the events ``selects`` picks."""

    def __init__(self, option: str, callback: Callback, selects: Callable[[Event], bool]) -> None:
        self.option = option
        self.callback = callback
        self.selects = selects
        # How the bus names this handler when it fails.
        self.label = f"callback {option}"

    def log(self, event: Event) -> Awaitable[None] | None:
        if self.selects(event):
            return self.callback(event)
        return None


def callback_handlers(options: CallbackOptions) -> list[CallbackHandler]:
    """A handler for each callback given (``None`` means none)."""
    handlers = []
    for option, callback in options.items():
        if option not in SELECTORS:
            raise TypeError(f"unknown callback {option!r}; use one of {', '.join(SELECTORS)}")
        if callback is None:
            continue
        if not callable(callback):
            raise TypeError(f"{option} must be a function, not {type(callback).__name__}")
        handlers.append(CallbackHandler(option, callback, SELECTORS[option]))
    return handlers
