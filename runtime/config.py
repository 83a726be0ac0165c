"""Runtime settings, with defaults a user rarely needs to change. Environment variables
(``TIDE_MODEL``, ``TIDE_TIMEOUT``, ``TIDE_STREAMING``, ``TIDE_ALERTS``, ``TIDE_SCRIPTED_SCRIPT``: a JSON script of
replies for ``scripted/`` models) override the defaults."""

from __future__ import annotations

import math
import os
from typing import Any

from pydantic import BaseModel, ConfigDict

from runtime.alerts import Alerts, parse_alerts
from runtime.errors import ConfigurationError
from runtime.sandbox import DEFAULT_HOOK_INTERVAL, DEFAULT_MAX_MEMORY


def _seconds(name: str, text: str) -> float:
    """A duration from the environment: a finite number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ConfigurationError(
            f"{name}={text!r} is not a duration",
            hint=f"set {name} to a number of seconds above 0, e.g. {name}=600",
        )
    return value


class RuntimeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    timeout_s: float = 600.0
    max_memory: int = DEFAULT_MAX_MEMORY
    hook_interval: int = DEFAULT_HOOK_INTERVAL
    streaming: bool = True
    model: str | None = None
    first_token_timeout_s: float = 60.0
    idle_timeout_s: float = 60.0
    retries: int = 2
    retry_backoff_s: float = 0.5
    max_tool_rounds: int = 16
    output_retries: int = 1
    max_lua_threads: int = 256
    inspect_timeout_s: float = 10.0
    scripted_script: str | None = None
    # Models that never stream (``provider/model`` patterns with ``*``): called whole at once.
    non_streaming_models: tuple[str, ...] = ()
    # Thresholds every agent turn is checked against (an agent's own ``alerts`` win).
    alerts: Alerts = Alerts()

    @classmethod
    def from_env(cls, **overrides: Any) -> RuntimeConfig:
        values: dict[str, Any] = {}
        if os.environ.get("TIDE_MODEL"):
            values["model"] = os.environ["TIDE_MODEL"]
        if os.environ.get("TIDE_TIMEOUT"):
            values["timeout_s"] = _seconds("TIDE_TIMEOUT", os.environ["TIDE_TIMEOUT"])
        if os.environ.get("TIDE_NON_STREAMING_MODELS"):
            patterns = os.environ["TIDE_NON_STREAMING_MODELS"].split(",")
            values["non_streaming_models"] = tuple(p.strip() for p in patterns if p.strip())
        if os.environ.get("TIDE_SCRIPTED_SCRIPT"):
            values["scripted_script"] = os.environ["TIDE_SCRIPTED_SCRIPT"]
        if os.environ.get("TIDE_ALERTS"):
            try:
                values["alerts"] = parse_alerts(os.environ["TIDE_ALERTS"])
            except ValueError as exc:
                raise ConfigurationError(
                    f"TIDE_ALERTS: {exc}", hint="e.g. TIDE_ALERTS=ttft_ms=1000,cost_usd=0.5"
                ) from None
        if os.environ.get("TIDE_STREAMING"):
            values["streaming"] = os.environ["TIDE_STREAMING"].lower() not in (
                "0",
                "false",
                "no",
                "off",
            )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
