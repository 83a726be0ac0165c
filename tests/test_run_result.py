"""What a run returns."""

from __future__ import annotations

from runtime.events import ErrorInfo
from runtime.run_result import RunResult


def test_the_repr_stays_short_whatever_the_run_holds() -> None:
    # asyncio's runner formats the result of the task it ran: a run that filled its state
    # near the memory limit must not be copied again as text.
    big = "x" * 10_000_000
    result = RunResult(
        "r1",
        "failed",
        output={"big": big},
        error=ErrorInfo(kind="memory_limit", message="m"),
        state={"k": big},
        tool_calls={"t": [{"args": {"text": big}, "result": None}]},
    )
    text = repr(result)
    assert len(text) < 200
    assert "r1" in text and "failed" in text and "memory_limit" in text
