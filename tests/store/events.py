"""Building a run's events by hand, with chosen times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from runtime.events import (
    AgentStreamChunkEvent,
    AgentTurnEvent,
    CostEvent,
    ErrorInfo,
    Event,
    RunCancelledEvent,
    RunCompletedEvent,
    RunFailedEvent,
    RunStartedEvent,
    RunTotals,
    TextBuffer,
)

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


class RunBuilder:
    def __init__(self, run_id: str, procedure: str = "p.tac", start: datetime = T0) -> None:
        self.run_id = run_id
        self.procedure = procedure
        self.now = start
        self.seq = 0
        self.events: list[Event] = []
        self.totals = RunTotals()

    def _next(self, ms: float) -> dict[str, Any]:
        self.seq += 1
        self.now += timedelta(milliseconds=ms)
        return {"run_id": self.run_id, "seq": self.seq, "ts": self.now}

    def started(self, **inputs: Any) -> RunBuilder:
        self.events.append(
            RunStartedEvent(procedure=self.procedure, inputs=inputs, **self._next(0))
        )
        return self

    def turn(
        self,
        agent: str,
        text: str,
        *,
        model: str = "m/one",
        turn: int = 1,
        ttft_ms: float | None = 100.0,
        duration_ms: float = 1000.0,
        tokens: int = 10,
        cost: float = 0.01,
        pieces: int = 0,
        finish: bool = True,
        first_visible_ms: float | None = None,
    ) -> RunBuilder:
        self.events.append(
            AgentTurnEvent(agent=agent, turn=turn, stage="started", model=model, **self._next(1))
        )
        buffer = TextBuffer()
        size = max(1, len(text) // pieces) if pieces else max(1, len(text))
        for start in range(0, len(text), size):
            piece = text[start : start + size]
            offset = buffer.append(piece)
            self.events.append(
                AgentStreamChunkEvent.from_buffer(
                    buffer, piece, offset, agent=agent, turn=turn, **self._next(1)
                )
            )
        if not finish:
            return self
        self.events.append(
            CostEvent(
                agent=agent,
                turn=turn,
                model=model,
                provider="test",
                total_tokens=tokens,
                completion_tokens=tokens,
                cost_usd=cost,
                duration_ms=duration_ms,
                time_to_first_token_ms=ttft_ms,
                first_visible_token_ms=first_visible_ms,
                **self._next(1),
            )
        )
        self.totals.total_tokens += tokens
        self.totals.completion_tokens += tokens
        self.totals.cost_usd += cost
        self.totals.agent_turns += 1
        self.events.append(
            AgentTurnEvent(
                agent=agent, turn=turn, stage="completed", model=model, text=text, **self._next(1)
            )
        )
        return self

    def completed(self, output: Any = None, duration_ms: float = 2000.0) -> RunBuilder:
        self.totals.duration_ms = duration_ms
        self.events.append(
            RunCompletedEvent(output=output, totals=self.totals.model_copy(), **self._next(1))
        )
        return self

    def failed(
        self, message: str, partial_text: str | None = None, kind: str = "agent"
    ) -> RunBuilder:
        self.events.append(
            RunFailedEvent(
                error=ErrorInfo(kind=kind, message=message),
                partial_text=partial_text,
                totals=self.totals.model_copy(),
                **self._next(1),
            )
        )
        return self

    def cancelled(self, partial_text: str | None = None) -> RunBuilder:
        self.events.append(
            RunCancelledEvent(
                partial_text=partial_text, totals=self.totals.model_copy(), **self._next(1)
            )
        )
        return self
