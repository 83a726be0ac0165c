"""Costs from LiteLLM's bundled price map, an explicit price, or nothing."""

from __future__ import annotations

import litellm
import pytest

from runtime.models.pricing import Price, cost_usd, litellm_knows


def test_a_known_model_is_priced_from_the_bundled_map() -> None:
    rates = litellm.model_cost["gpt-4o-mini"]
    assert rates["input_cost_per_token"] > 0
    expected = 1000 * rates["input_cost_per_token"] + 500 * rates["output_cost_per_token"]
    assert cost_usd("openai/gpt-4o-mini", 1000, 500) == pytest.approx(expected)
    assert cost_usd("gpt-4o-mini", 1000, 500) == pytest.approx(expected)
    assert litellm_knows("openai/gpt-4o-mini")


def test_the_bundled_map_wins_over_a_price_for_a_known_model() -> None:
    assert cost_usd("openai/gpt-4o-mini", 1000, 0, price=Price(1.0, 1.0)) < 1.0


def test_an_unknown_model_uses_its_price_or_costs_nothing() -> None:
    assert not litellm_knows("openai/tide-private-model")
    price = Price(input_per_token=2e-6, output_per_token=8e-6)
    assert cost_usd("openai/tide-private-model", 1000, 500, price=price) == pytest.approx(
        1000 * 2e-6 + 500 * 8e-6
    )
    assert cost_usd("openai/tide-private-model", 1000, 500) == 0.0


def test_local_models_skip_the_map_even_with_a_known_name() -> None:
    assert cost_usd("openai/gpt-4o-mini", 1000, 500, use_litellm=False) == 0.0
    assert cost_usd("openai/gpt-4o-mini", 10, 5, price=Price(1, 2), use_litellm=False) == 20.0


def test_no_tokens_cost_nothing() -> None:
    assert cost_usd("openai/gpt-4o-mini", 0, 0) == 0.0
    assert Price(1.0, 1.0).cost(0, 0) == 0.0
