from __future__ import annotations

import pytest

from runtime import RuntimeConfig
from runtime.alerts import ALERT_METRICS, Alerts, parse_alerts
from runtime.errors import ConfigurationError, TideError
from tests.helpers import of_type, run

pytestmark = pytest.mark.anyio

PROCEDURE = """
slow = Agent { model = "openai/gpt-4o-mini", system_prompt = "x" {alerts} }
quick = Agent { model = "openai/gpt-4o-mini", system_prompt = "y" }
Mocks { slow = { message = "one" }, quick = { message = "two" } }
Procedure { function(input) slow("a"); quick("b"); return {} end }
"""


def _alerts(events: list) -> list:
    return [e for e in of_type(events, "log") if e.source == "alert"]


def test_parse_alerts() -> None:
    assert parse_alerts("ttft_ms=1000, cost_usd=0.5") == Alerts(ttft_ms=1000, cost_usd=0.5)
    assert parse_alerts("") == Alerts()
    with pytest.raises(ValueError, match="unknown alert 'tftt_ms'"):
        parse_alerts("tftt_ms=3")
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_alerts("ttft_ms")
    with pytest.raises(ValueError, match="cost_usd"):
        parse_alerts("cost_usd=lots")
    assert ALERT_METRICS == ("ttft_ms", "cost_usd", "duration_ms")


def test_tide_alerts_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDE_ALERTS", "duration_ms=250")
    assert RuntimeConfig.from_env().alerts == Alerts(duration_ms=250)
    monkeypatch.setenv("TIDE_ALERTS", "bogus=1")
    with pytest.raises(ConfigurationError, match="TIDE_ALERTS"):
        RuntimeConfig.from_env()


async def test_config_thresholds_apply_to_every_turn() -> None:
    config = RuntimeConfig(alerts=Alerts(duration_ms=0))
    result, events = await run(PROCEDURE.replace("{alerts}", ""), config=config)
    assert result.ok
    alerts = _alerts(events)
    assert [(a.fields["agent"], a.fields["alert"]) for a in alerts] == [
        ("slow", "duration_ms"),
        ("quick", "duration_ms"),
    ]
    first = alerts[0]
    assert first.level == "warn"
    assert first.fields["threshold"] == 0 and first.fields["value"] > 0
    assert first.fields["model"] == "openai/gpt-4o-mini" and first.fields["turn"] == 1
    assert "duration" in first.message and "slow" in first.message
    assert result.event_counts["log"] == 2


async def test_an_agents_own_thresholds_win_key_by_key() -> None:
    config = RuntimeConfig(alerts=Alerts(duration_ms=0, cost_usd=0))
    own = ", alerts = { duration_ms = 3600000, ttft_ms = 0 }"
    _, events = await run(PROCEDURE.replace("{alerts}", own), config=config)
    seen = {(a.fields["agent"], a.fields["alert"]) for a in _alerts(events)}
    # Mocked turns cost nothing, so cost_usd = 0 is never crossed.
    assert seen == {("slow", "ttft_ms"), ("quick", "duration_ms")}


async def test_no_thresholds_no_alerts() -> None:
    _, events = await run(PROCEDURE.replace("{alerts}", ""))
    assert _alerts(events) == []


async def test_an_unknown_alert_key_is_a_declaration_error() -> None:
    with pytest.raises(TideError, match=r"alerts\.ttft"):
        await run(PROCEDURE.replace("{alerts}", ", alerts = { ttft = 1 }"))
