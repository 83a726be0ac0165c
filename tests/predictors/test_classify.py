"""Classify: the llm method's parsing, retries and mocks; the fuzzy method's modes."""

from __future__ import annotations

from typing import Any

import pytest

from runtime import inspect_procedure
from runtime.errors import DeclarationError
from tests.helpers import of_type, run, source

pytestmark = pytest.mark.anyio


async def classify(mock: str, *, text: str = "the ticket", extra: str = "") -> Any:
    program = f"""
    c = Classify {{ name = "router", classes = {{"Billing", "Shipping"}}, prompt = "Which team?" {extra} }}
    Mocks {{ router = {mock} }}
    return {{ r = c("{text}"), colon = c:classify("{text}") }}
    """
    result, events = await run(program)
    assert result.status == "completed", result.error
    return result.output["r"], events


@pytest.mark.parametrize(
    ("reply", "value", "explanation"),
    [
        ('{ value = "billing", confidence = 0.9 }', "Billing", None),
        ('{ response = "Shipping" }', "Shipping", None),
        (
            '{ response = "It is about a charge.\\n**Billing**" }',
            "Billing",
            "It is about a charge.",
        ),
        ('{ response = "Answer: shipping." }', "Shipping", "Answer: shipping."),
        ('"billing"', "Billing", None),
    ],
)
async def test_llm_reads_the_class(reply: str, value: str, explanation: str | None) -> None:
    result, _ = await classify(f"{{ returns = {reply} }}")
    assert result["value"] == value
    assert result["retry_count"] == 0
    assert result["confidence"] == (0.9 if "confidence" in reply else 0.8)
    assert result.get("explanation") == explanation


async def test_llm_retries_one_mock_entry_per_attempt() -> None:
    result, events = await classify(
        '{ temporal = { {response = "no idea"}, {response = "hmm"}, {value = "shipping"} } }'
    )
    assert result["value"] == "Shipping" and result["retry_count"] == 2
    assert len(of_type(events, "model_prediction")) == 2 * 3 + 2  # c() then c:classify()


async def test_llm_gives_error_after_the_last_attempt() -> None:
    result, _ = await classify('{ returns = {response = "no idea"} }', extra=", max_retries = 1")
    assert result == {
        "value": "ERROR",
        "retry_count": 1,
        "raw_response": {"response": "no idea"},
        "error": "Invalid classification after retries",
    }


async def test_input_classifies_at_once() -> None:
    text = """
    Mocks { llm_classifier = { returns = {value = "Yes"} } }
    local r = Classify { classes = {"Yes", "No"}, prompt = "Is it a question?", input = "Why?" }
    return { value = r.value }
    """
    result, _ = await run(text)
    assert result.output == {"value": "Yes"}


async def test_fuzzy_binary_and_multiclass() -> None:
    text = """
    local yes = Classify { method = "fuzzy", expected = "hello world", threshold = 0.8 }
    local multi = Classify { method = "fuzzy", classes = {"billing", "shipping"}, threshold = 0.7 }
    local sets = Classify { method = "fuzzy", classes = {"red apple"}, algorithm = "token_set_ratio" }
    return { a = yes("Hello World "), b = yes("goodbye"), c = multi("Billing!"), d = multi("zzz"),
             e = sets("apple red") }
    """
    result, _ = await run(text)
    out = result.output
    assert out["a"] == {
        "value": "Yes",
        "confidence": 1.0,
        "matched_text": "hello world",
        "retry_count": 0,
    }
    assert out["b"]["value"] == "No" and "matched_text" not in out["b"]
    assert out["c"]["value"] == "billing" and out["c"]["matched_text"] == "billing"
    assert out["d"]["value"] == "NO_MATCH" and out["d"]["confidence"] > 0.5
    assert out["e"]["value"] == "red apple"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('{ classes = {"a"} }', "Classify needs prompt"),
        ('{ prompt = "x" }', "Classify needs classes"),
        ('{ method = "bayes", classes = {"a"} }', "unknown Classify method"),
        ('{ method = "fuzzy" }', "needs classes"),
        ('{ method = "fuzzy", classes = {"a"}, algorithm = "wratio" }', "unknown fuzzy algorithm"),
    ],
)
async def test_misuse_is_a_located_declaration_error(config: str, message: str) -> None:
    with pytest.raises(DeclarationError) as caught:
        inspect_procedure(source(f"\nc = Classify {config}\nreturn {{}}"))
    assert message in caught.value.message
    assert caught.value.line == 2


async def test_tactus_classify_modules() -> None:
    text = """
    local classify = require("tactus.text.classify")
    local LLMClassifier = require("tactus.text.classify.llm").LLMClassifier
    local models = require("tactus.models.llm")
    Mocks {
      stdlib_llm = { returns = { value = "No" } },
      sentiment = { returns = { response = "positive" } },
    }
    local llm = LLMClassifier:new { name = "stdlib_llm", classes = {"Yes", "No"}, prompt = "Q?" }
    local fuzzy = classify.FuzzyMatchClassifier:new { expected = "hello" }
    local direct = classify.Classify { method = "fuzzy", classes = {"a b"}, input = "a b" }
    local m = models.LLMModel { name = "sentiment", prompt = "Sentiment?" }
    return { llm = llm:classify("x").value, fuzzy = fuzzy:classify("helo").value,
             direct = direct.value, model = m({ text = "great" }).output.response }
    """
    result, _ = await run(text)
    assert result.output == {"llm": "No", "fuzzy": "Yes", "direct": "a b", "model": "positive"}


async def test_classifier_fields_are_tactus_s() -> None:
    text = """
    Mocks { router = { returns = {value = "Billing"} } }
    local llm = Classify { name = "router", classes = {"Billing", "Shipping"}, prompt = "Which team?",
                           max_retries = 1, temperature = 0.2 }
    local plain = Classify { classes = {"a"}, prompt = "p" }
    local yes = Classify { method = "fuzzy", expected = "hello", threshold = 0.7 }
    local multi = Classify { method = "fuzzy", classes = {"x", "y"}, algorithm = "partial_ratio" }
    return {
      llm = { llm.name, llm.prompt, llm.max_retries, llm.model_id, llm.temperature,
              llm.confidence_mode, llm.parse_direction, llm.classes[2], llm.config.prompt },
      plain = { plain.max_retries, plain.model_id, plain.name == nil, plain.max_tokens == nil },
      parsed = { llm:parse_response("I think\\n**shipping**"), llm.parse_response("nothing") == nil },
      predicted = llm.model({text = "x"}).output.value,
      yes = { yes.mode, yes.expected, yes.threshold, yes.algorithm, yes.classes[1] },
      multi = { multi.mode, multi.expected == nil, multi.threshold, multi.algorithm },
    }
    """
    result, _ = await run(text)
    assert result.status == "completed", result.error
    out = result.output
    assert out["llm"] == [
        "router", "Which team?", 1, "openai/gpt-4o-mini", 0.2, "heuristic", "end", "Shipping",
        "Which team?",
    ]  # fmt: skip
    assert out["plain"] == [3, "openai/gpt-4o-mini", True, True]
    assert out["parsed"] == ["Shipping", True]
    assert out["predicted"] == "Billing"
    assert out["yes"] == ["binary", "hello", 0.7, "ratio", "Yes"]
    assert out["multi"] == ["multiclass", True, 0.8, "partial_ratio"]
