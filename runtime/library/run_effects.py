"""What the standard library does inside a real run: agent conversations, alerts, ``Sleep`` and
``Procedure.run``. ``runtime.run.Run`` mixes these in; they are called on the Lua thread."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.from_thread

from runtime.declarations import AgentDecl
from runtime.errors import ProcedureRuntimeError
from runtime.events import CostEvent, Event, SystemAlertEvent
from runtime.source import ProcedureSource

if TYPE_CHECKING:
    from runtime.agent import AgentSession
    from runtime.bridge import LuaThreadBridge
    from runtime.bus import EventBus
    from runtime.events import RunTotals

MAX_NESTING = 8
# Events of a nested run that its caller's stream shows (its start and end are the caller's call).
FORWARDED = frozenset(
    {"agent_turn", "agent_stream_chunk", "tool_call", "cost", "log", "system_alert"}
)


class RunLibraryEffects:
    bus: EventBus
    totals: RunTotals
    timeout_s: float
    _bridge: LuaThreadBridge | None
    _sessions: dict[int, AgentSession]
    _started: float

    def __init__(self) -> None:
        # Each agent's conversation, shared with its session once it has one.
        self.conversations: dict[int, list[dict[str, Any]]] = {}
        self.last_outputs: dict[int, str] = {}
        self.nesting = 0

    # -- agents ---------------------------------------------------------------------------------

    def conversation(self, agent: AgentDecl) -> list[dict[str, Any]]:
        return self.conversations.setdefault(agent.id, [])

    def agent_method(self, agent: AgentDecl, method: str) -> Any:
        session = self._sessions.get(agent.id)
        if method == "turns":
            return session.turns if session else 0
        if method == "output":
            return self.last_outputs.get(agent.id)
        if method == "clear_history":
            self.conversation(agent).clear()
            return None
        return [dict(m, content=m.get("content") or "") for m in self.conversation(agent)]

    # -- System.alert and Sleep ------------------------------------------------------------------

    def alert(self, level: str, message: str, source: str | None, context: dict[str, Any]) -> None:
        anyio.from_thread.run_sync(
            partial(
                self.bus.emit,
                SystemAlertEvent,
                level=level,
                message=message,
                source=source,
                context=context,
            )
        )

    def sleep(self, seconds: float) -> None:
        assert self._bridge is not None
        # Waiting in the event loop: a cancel or the run's time limit ends the wait at once.
        self._bridge.wait_for(anyio.sleep, seconds)

    # -- Procedure.run ---------------------------------------------------------------------------

    def run_procedure(self, path: Path, inputs: dict[str, Any]) -> Any:
        assert self._bridge is not None
        if self.nesting >= MAX_NESTING:
            raise ProcedureRuntimeError(
                f"Procedure.run: procedures nested more than {MAX_NESTING} deep",
                hint="a procedure that runs itself needs a condition that ends it",
            )
        child = self.nested_run(ProcedureSource.from_path(path), inputs)
        child.nesting = self.nesting + 1
        result = self._bridge.wait_for(child.execute)
        self.totals.tool_calls += result.totals.tool_calls
        if result.status != "completed":
            detail = result.error.message if result.error else result.status
            raise ProcedureRuntimeError(f"Procedure.run('{path.name}') failed: {detail}")
        return result.output

    def nested_run(self, source: ProcedureSource, inputs: dict[str, Any]) -> Any:
        raise NotImplementedError

    def remaining_time(self) -> float:
        return max(self.timeout_s - (time.monotonic() - self._started), 0.001)

    def note_usage(self, cost: CostEvent) -> None:
        raise NotImplementedError


class ForwardEvents:
    """A nested run's handler: its agents' events appear in the calling run's stream."""

    def __init__(self, parent: RunLibraryEffects) -> None:
        self.parent = parent

    def log(self, event: Event) -> None:
        if event.type not in FORWARDED:
            return
        bus = self.parent.bus
        bus.dispatch(event.model_copy(update={"run_id": bus.run_id, "seq": bus.next_seq()}))
        if isinstance(event, CostEvent):
            self.parent.note_usage(event)
