"""What a run returns: how it ended, its output, totals, and what its tools and state hold."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from runtime.events import ErrorInfo, RunTotals

if TYPE_CHECKING:
    from runtime.host import Host

Status = Literal["completed", "failed", "cancelled", "waiting"]


@dataclass(repr=False)
class RunResult:
    run_id: str
    status: Status
    output: Any = None
    error: ErrorInfo | None = None
    partial_text: str | None = None
    totals: RunTotals = field(default_factory=RunTotals)
    event_counts: dict[str, int] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    tool_calls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    agent_turns: dict[str, int] = field(default_factory=dict)
    # What a ``waiting`` run waits for: one question to a person per item.
    pending: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None  # what the procedure gave ``Stop.request``

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def __repr__(self) -> str:
        # Short whatever the run holds: asyncio's runner formats the result of the task it ran
        # when it ends, and a full repr of a state near the memory limit is several times it.
        error = f", error={self.error.kind!r}" if self.error is not None else ""
        return f"RunResult(run_id={self.run_id!r}, status={self.status!r}{error})"


def tool_calls_of(host: Host | None) -> dict[str, list[dict[str, Any]]]:
    """Each tool's calls in the run, by tool name: ``{"args", "result"}`` in order."""
    calls: dict[str, list[dict[str, Any]]] = {}
    if host is not None:
        for tool in host.declarations.tools.values():
            calls[tool.name or f"tool{tool.id}"] = [
                {"args": c.args, "result": c.result} for c in host.ledger.of(tool.id)
            ]
    return calls
