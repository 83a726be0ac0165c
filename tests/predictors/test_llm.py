"""Models and classifiers that ask an LLM go through the agent layer: streamed turns, costed,
one fresh conversation per prediction."""

from __future__ import annotations

import pytest

from runtime.models import FunctionModel, ModelRequest
from tests.helpers import of_type, run

pytestmark = pytest.mark.anyio


async def test_llm_model_is_an_agent_turn_with_a_fresh_conversation() -> None:
    def answer(request: ModelRequest) -> str:
        return f"label for: {request.messages[-1]['content']}"

    model = FunctionModel(answer)
    text = """
    m = Model { type = "llm", model = "openai/gpt-4o-mini", system_prompt = "Label it.",
                input = { text = "string" } }
    local a = m({ text = "first" })
    local b = m.predict({ text = "second" })
    return { a = a.output.response, b = b.response, tokens = b.usage.total_tokens }
    """
    result, events = await run(text, mock=False, models={"openai/gpt-4o-mini": model})
    assert result.status == "completed", result.error
    assert result.output["a"] == "label for: first"
    assert result.output["b"] == "label for: second"
    assert result.output["tokens"] > 0
    # Each prediction sees only the system prompt and its own input.
    assert [len(r.messages) for r in model.requests] == [2, 2]
    assert model.requests[0].messages[0]["content"] == "Label it."
    assert len(of_type(events, "agent_turn")) == 4 and len(of_type(events, "cost")) == 2
    completed = [e for e in of_type(events, "model_prediction") if e.stage == "completed"]
    assert [e.output for e in completed] == [
        {"response": "label for: first"},
        {"response": "label for: second"},
    ]
    assert result.totals.agent_turns == 2


async def test_classify_llm_retries_through_the_model() -> None:
    replies = iter(["I cannot tell.", "Hmm, it's about money.\nBilling"])
    model = FunctionModel(lambda request: next(replies))
    text = """
    c = Classify { name = "router", classes = {"Billing", "Shipping"}, prompt = "Which team?",
                   model = "openai/gpt-4o-mini" }
    return c("Refund me")
    """
    result, _ = await run(text, mock=False, models={"openai/gpt-4o-mini": model})
    assert result.status == "completed", result.error
    assert result.output["value"] == "Billing"
    assert result.output["retry_count"] == 1
    assert result.output["explanation"] == "Hmm, it's about money."
    system = model.requests[0].messages[0]["content"]
    assert system.startswith("Which team?") and "Billing, Shipping" in system


async def test_missing_credentials_stop_the_run_before_any_prediction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from runtime.errors import TideError

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    text = """
    c = Classify { classes = {"a", "b"}, prompt = "x", model = "anthropic/claude-3-haiku" }
    return { v = c("hello").value }
    """
    with pytest.raises(TideError) as caught:
        await run(text, mock=False)
    assert "ANTHROPIC_API_KEY" in caught.value.message
