"""Callbacks on ``run_procedure``: each moment's events, sync or async, a failure told once."""

from __future__ import annotations

from typing import get_type_hints

import pytest

from runtime import MemoryHandler, run_procedure, run_procedure_sync
from runtime.callbacks import SELECTORS, CallbackOptions
from runtime.events import AgentStreamChunkEvent, AgentTurnEvent, Event, ToolCallEvent

pytestmark = pytest.mark.anyio

TOOLS = "procedures/tools.tac"


def test_every_callback_option_has_a_selector() -> None:
    assert set(get_type_hints(CallbackOptions)) == set(SELECTORS)


async def test_each_callback_gets_the_events_of_its_moment() -> None:
    seen: dict[str, list[Event]] = {name: [] for name in SELECTORS}

    def recorder(name: str):  # type: ignore[no-untyped-def]
        return seen[name].append

    async def on_chunk(event: AgentStreamChunkEvent) -> None:
        seen["on_chunk"].append(event)

    result = await run_procedure(
        TOOLS,
        mock=True,
        on_chunk=on_chunk,
        on_turn_start=recorder("on_turn_start"),
        on_turn_end=recorder("on_turn_end"),
        on_tool_call=recorder("on_tool_call"),
        on_tool_result=recorder("on_tool_result"),
    )
    assert result.status == "completed"
    text = "".join(e.chunk_text for e in seen["on_chunk"] if isinstance(e, AgentStreamChunkEvent))
    ends = seen["on_turn_end"]
    assert len(ends) == 1 and isinstance(ends[0], AgentTurnEvent)
    assert ends[0].stage == "completed" and ends[0].text == text == "Let me work that out."
    starts = seen["on_turn_start"]
    assert [(e.type, getattr(e, "stage", None)) for e in starts] == [("agent_turn", "started")]
    calls = [e for e in seen["on_tool_call"] if isinstance(e, ToolCallEvent)]
    assert [(c.tool, c.stage, c.args) for c in calls] == [
        ("multiply", "started", {"a": 6, "b": 7}),
        ("add", "started", {"a": 42, "b": 8}),
        ("done", "started", {"reason": "6 × 7 + 8 = 50"}),
    ]
    results = [e for e in seen["on_tool_result"] if isinstance(e, ToolCallEvent)]
    assert [(r.tool, r.stage, r.result) for r in results][:2] == [
        ("multiply", "completed", 42),
        ("add", "completed", 50),
    ]


def test_a_failing_callback_is_reported_once_and_the_run_goes_on() -> None:
    calls = 0

    def broken(event: AgentStreamChunkEvent) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("no thanks")

    events = MemoryHandler()
    result = run_procedure_sync(TOOLS, mock=True, handlers=[events], on_chunk=broken)
    assert result.status == "completed"
    notices = [e for e in events.of_type("log") if "on_chunk" in getattr(e, "message", "")]
    assert len(notices) == 1
    assert notices[0].message == "callback on_chunk failed: ValueError: no thanks"
    # Like a failing handler, it is still called for every later event of its kind.
    assert calls == result.event_counts["agent_stream_chunk"]


async def test_an_unknown_callback_or_one_that_is_not_a_function_is_refused() -> None:
    with pytest.raises(TypeError, match="unknown callback 'on_chunks'"):
        await run_procedure(TOOLS, mock=True, on_chunks=print)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="on_chunk must be a function"):
        await run_procedure(TOOLS, mock=True, on_chunk="print")  # type: ignore[arg-type]
