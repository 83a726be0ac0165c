"""Alerts: thresholds on an agent turn's time to first token, cost and duration.

Thresholds come from the runtime's settings (``RuntimeConfig.alerts``, or ``TIDE_ALERTS`` as
``ttft_ms=1000,cost_usd=0.5``) and from an agent's own ``alerts = { ... }``, which wins key by
key. A turn that crosses one emits a ``log`` warning whose ``source`` is ``alert``; ``tide stats``
counts them and the IDE shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from runtime.events import CostEvent

ALERT_SOURCE = "alert"


class Alerts(BaseModel):
    """Thresholds, each optional: a turn alerts when its value is above one."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    ttft_ms: float | None = None
    cost_usd: float | None = None
    duration_ms: float | None = None

    def merged(self, override: Alerts | None) -> Alerts:
        """These thresholds with ``override``'s set keys in their place."""
        if override is None:
            return self
        return self.model_copy(update=override.model_dump(exclude_none=True))

    def crossed(self, cost: CostEvent) -> list[tuple[str, float, float]]:
        """(metric, value, threshold) for each threshold the turn went over."""
        values = {
            "ttft_ms": cost.time_to_first_token_ms,
            "cost_usd": cost.cost_usd,
            "duration_ms": cost.duration_ms,
        }
        found = []
        for metric, value in values.items():
            threshold = getattr(self, metric)
            if threshold is not None and value is not None and value > threshold:
                found.append((metric, float(value), float(threshold)))
        return found

    def warnings(self, cost: CostEvent) -> list[dict[str, Any]]:
        """The ``log`` events (their fields) that say which thresholds ``cost`` crossed."""
        return [
            {
                "level": "warn",
                "message": alert_message(cost.agent, metric, value, threshold),
                "fields": {
                    "alert": metric,
                    "value": value,
                    "threshold": threshold,
                    "agent": cost.agent,
                    "turn": cost.turn,
                    "model": cost.model,
                },
                "source": ALERT_SOURCE,
            }
            for metric, value, threshold in self.crossed(cost)
        ]


ALERT_METRICS: tuple[str, ...] = tuple(Alerts.model_fields)


def parse_alerts(text: str) -> Alerts:
    """``ttft_ms=1000,cost_usd=0.5`` (the form of ``TIDE_ALERTS``)."""
    values: dict[str, Any] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"alert '{part.strip()}' is not NAME=VALUE")
        values[name.strip()] = value.strip()
    return alerts_from(values)


def alerts_from(values: Mapping[str, Any]) -> Alerts:
    try:
        return Alerts.model_validate(dict(values))
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(p) for p in error["loc"])
        if error["type"] == "extra_forbidden":
            raise ValueError(f"unknown alert '{name}'; known: {', '.join(ALERT_METRICS)}") from None
        raise ValueError(f"alert '{name}': {error['msg']}") from None


def alert_message(agent: str, metric: str, value: float, threshold: float) -> str:
    names = {"ttft_ms": "time to first token", "cost_usd": "cost", "duration_ms": "duration"}
    if metric == "cost_usd":
        shown = (
            f"${value:.6f} > ${threshold:g}" if value < 0.01 else f"${value:.4f} > ${threshold:g}"
        )
    else:
        shown = (
            f"{value:.0f} ms > {threshold:g} ms"
            if value >= 100
            else (f"{value:.2f} ms > {threshold:g} ms")
        )
    return f"alert: agent '{agent}' {names[metric]} {shown}"
