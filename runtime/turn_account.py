"""What an agent's turn spent: tokens, cost, time and calls, summed over its model calls."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from runtime.models.base import RequestSent, Usage


@dataclass
class TurnAccount:
    started: float = field(default_factory=time.monotonic)
    ttft_ms: float | None = None
    # From the turn's start to its first text, across tool rounds: what a person waits.
    first_visible_token_ms: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    chunks: int = 0
    llm_calls: int = 0
    finish_reason: str | None = None
    streamed: bool = True
    cached: bool = False
    # Any call's usage was Tide's count rather than the provider's (see ``Usage.estimated``).
    usage_estimated: bool = False

    def add(self, usage: Usage | None) -> None:
        if usage is not None:
            self.prompt_tokens += usage.prompt_tokens
            self.completion_tokens += usage.completion_tokens
            self.cost_usd += usage.cost_usd
            self.usage_estimated = self.usage_estimated or usage.estimated

    def request_sent(self, item: RequestSent) -> float:
        """When ``item``'s call was sent (``time.monotonic()``). A call answered from the
        journal takes no time now: the turn counts the time it took when it was made, and its
        first text as it came then."""
        timing = item.replayed
        if timing is None:
            return item.at
        if self.ttft_ms is None and timing.first_text_ms is not None:
            self.ttft_ms = timing.first_text_ms - timing.sent_ms
            self.first_visible_token_ms = (item.at - self.started) * 1000 + timing.first_text_ms
        self.started -= timing.ended_ms / 1000
        return item.at

    def add_estimate(self, client: Any, messages: list[dict[str, Any]], texts: list[str]) -> None:
        """Count a call Tide stopped before the provider said what it used, by the client's
        ``estimate_usage`` (clients without one cost nothing)."""
        estimate = getattr(client, "estimate_usage", None)
        if estimate is None:
            return
        try:
            self.add(estimate(messages, "".join(texts), len(texts)))
        except Exception:  # an estimate must never turn a stop into another failure
            return

    def cost_fields(self) -> dict[str, Any]:
        """The ``cost`` event's fields that this account knows."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "cost_usd": self.cost_usd,
            "duration_ms": (time.monotonic() - self.started) * 1000,
            "time_to_first_token_ms": self.ttft_ms,
            "first_visible_token_ms": self.first_visible_token_ms,
            "chunks": self.chunks,
            "finish_reason": self.finish_reason,
            "streamed": self.streamed,
            "usage_estimated": self.usage_estimated,
            "cached": self.cached,
            "llm_calls": self.llm_calls,
        }
