"""``Classify``: put a text into one of a set of classes, by asking a model or by fuzzy string
similarity.

The llm method asks its model up to ``max_retries + 1`` times and reads the class from the
reply (a ``value`` field, else the text's lines, last line first: an exact class, then a class
as a whole word, both case-insensitive). The fuzzy method scores the text against each class
(or against ``expected`` for a yes/no answer) with rapidfuzz.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runtime.errors import AgentError, DeclarationError, ProcedureRuntimeError
from runtime.predictors.model import ModelDecl

METHODS = ("llm", "fuzzy")
ALGORITHMS = ("ratio", "token_set_ratio", "token_sort_ratio", "partial_ratio")
DEFAULT_MODEL = "openai/gpt-4o-mini"
DEFAULT_NAME = "llm_classifier"
KEYS = frozenset(
    {
        "method", "classes", "prompt", "name", "model", "max_retries", "threshold", "algorithm",
        "expected", "input", "temperature", "max_tokens", "confidence_mode", "parse_direction",
        "reasoning_effort", "verbosity", "provider", "system_prompt",
    }
)  # fmt: skip
_MARKERS = re.compile(r"[*\"'`]")


@dataclass
class ClassifierDecl:
    id: int
    method: str
    classes: list[str]
    config: dict[str, Any]
    file: str | None
    line: int | None
    name: str | None = None
    model: ModelDecl | None = None
    expected: str | None = None
    threshold: float = 0.8
    algorithm: str = "ratio"
    max_retries: int = 3


def parse_classifier(
    ident: int, raw: Any, file: str | None, line: int | None
) -> tuple[ClassifierDecl, list[str]]:
    """The classifier and warnings about keys it does not use."""
    if not isinstance(raw, dict):
        raise DeclarationError(
            "Classify expects a table", hint='Classify { classes = {"yes", "no"}, prompt = "..." }'
        )
    method = raw.get("method", "llm")
    if method not in METHODS:
        raise DeclarationError(
            f"unknown Classify method {method!r}", hint='method = "llm" or method = "fuzzy"'
        )
    classes = raw.get("classes")
    if classes is not None and (
        not isinstance(classes, list) or not all(isinstance(c, str) for c in classes)
    ):
        raise DeclarationError('Classify classes must be a list of strings: {"a", "b"}')
    warnings = [f"Classify key '{k}' is not used" for k in sorted(map(str, raw)) if k not in KEYS]
    decl = ClassifierDecl(ident, method, list(classes or []), dict(raw), file, line)
    decl.name = raw.get("name") if isinstance(raw.get("name"), str) else None
    if method == "llm":
        if not decl.classes:
            raise DeclarationError("Classify needs classes = {...}")
        if not isinstance(raw.get("prompt"), str):
            raise DeclarationError('Classify needs prompt = "what to decide"')
        decl.max_retries = _count(raw.get("max_retries", 3), "max_retries")
    else:
        decl.threshold = _number(raw.get("threshold", 0.8), "threshold")
        decl.algorithm = str(raw.get("algorithm", "ratio"))
        if decl.algorithm not in ALGORITHMS:
            raise DeclarationError(
                f"unknown fuzzy algorithm {decl.algorithm!r}",
                hint="use one of: " + ", ".join(ALGORITHMS),
            )
        expected = raw.get("expected")
        if expected is not None:
            decl.expected = str(expected)
            decl.classes = decl.classes or ["Yes", "No"]
            if len(decl.classes) < 2:
                raise DeclarationError("a yes/no Classify needs two classes: {yes, no}")
        elif not decl.classes:
            raise DeclarationError('a fuzzy Classify needs classes = {...} or expected = "..."')
    return decl, warnings


def llm_model(decl: ClassifierDecl, ident: int) -> ModelDecl:
    """The model an llm classifier asks, named after the classifier (its mocks' key)."""
    config = decl.config
    choices = ", ".join(decl.classes)
    prompt = f"{config['prompt']}\n\nAnswer with exactly one of: {choices}."
    settings: dict[str, Any] = {
        "type": "llm",
        "model": str(config.get("model") or DEFAULT_MODEL),
        "system_prompt": prompt,
    }
    for key in ("temperature", "max_tokens", "provider"):
        if config.get(key) is not None:
            settings[key] = config[key]
    return ModelDecl(
        ident,
        "llm",
        settings,
        {"text": "string"},
        {},
        decl.file,
        decl.line,
        decl.name or DEFAULT_NAME,
        internal=True,
    )


def classify(
    decl: ClassifierDecl, text: Any, predict: Callable[[ModelDecl, Any], dict[str, Any]]
) -> dict[str, Any]:
    text = "" if text is None else text if isinstance(text, str) else str(text)
    if decl.method == "fuzzy":
        return _fuzzy(decl, text)
    assert decl.model is not None
    last_output: Any = None
    last_error: str | None = None
    for attempt in range(decl.max_retries + 1):
        try:
            output = predict(decl.model, {"text": text})["output"]
        except (ProcedureRuntimeError, AgentError) as exc:
            last_error = exc.message
            continue
        last_error = None
        last_output = output
        value = _field(output, "value") or _field(output, "sentiment")
        response = output if isinstance(output, str) else _field(output, "response")
        if value is None and isinstance(response, str):
            value = parse_reply(decl, response)
        canonical = _canonical(decl.classes, value)
        if canonical is None:
            continue
        result: dict[str, Any] = {
            "value": canonical,
            "retry_count": attempt,
            "raw_response": output,
        }
        confidence = _field(output, "confidence")
        if confidence is not None:
            result["confidence"] = confidence
        elif decl.config.get("confidence_mode", "heuristic") == "heuristic":
            result["confidence"] = 0.8
        explanation = _field(output, "explanation")
        if explanation is None and isinstance(response, str):
            explanation = _explanation(response, canonical)
        if explanation is not None:
            result["explanation"] = explanation
        return result
    return {
        "value": "ERROR",
        "retry_count": decl.max_retries,
        "raw_response": last_output,
        "error": last_error or "Invalid classification after retries",
    }


def instance_field(decl: ClassifierDecl, key: str) -> Any:
    """A field of the classifier, as Tactus's classifier objects carry them: ``config`` and
    ``classes``; an llm classifier's ``name``, ``prompt``, ``max_retries``, ``model_id``,
    ``temperature``, ``max_tokens``, ``reasoning_effort``, ``verbosity``, ``confidence_mode``
    and ``parse_direction``; a fuzzy one's ``threshold``, ``algorithm``, ``mode``
    (``binary``/``multiclass``) and ``expected``. None for anything else (``model`` is a
    handle, which the host makes)."""
    config = decl.config
    if key == "config":
        return dict(config)
    if key == "classes":
        return list(decl.classes)
    if decl.method == "llm":
        llm_fields: dict[str, Any] = {
            "name": config.get("name"),
            "prompt": config.get("prompt"),
            "max_retries": decl.max_retries,
            "model_id": str(config.get("model") or DEFAULT_MODEL),
            "temperature": config.get("temperature"),
            "max_tokens": config.get("max_tokens"),
            "reasoning_effort": config.get("reasoning_effort"),
            "verbosity": config.get("verbosity"),
            "confidence_mode": config.get("confidence_mode") or "heuristic",
            "parse_direction": config.get("parse_direction") or "end",
        }
        return llm_fields.get(key)
    fuzzy_fields: dict[str, Any] = {
        "threshold": decl.threshold,
        "algorithm": decl.algorithm,
        "mode": "multiclass" if decl.expected is None else "binary",
        "expected": decl.expected,
    }
    return fuzzy_fields.get(key)


def parse_reply(decl: ClassifierDecl, reply: str) -> str | None:
    lines = [line.strip() for line in reply.splitlines() if line.strip()]
    if decl.config.get("parse_direction", "end") != "start":
        lines.reverse()
    for line in lines:
        cleaned = _MARKERS.sub("", line).strip().lower()
        for cls in decl.classes:
            if cleaned == cls.lower():
                return cls
        for cls in decl.classes:
            if re.search(r"(?<![^\W\d_])" + re.escape(cls.lower()) + r"(?![^\W\d_])", cleaned):
                return cls
    return None


def similarity(a: str, b: str, algorithm: str = "ratio") -> float:
    """0–1, on lowercased, stripped text; 0 when either is empty."""
    from rapidfuzz import fuzz

    if not a or not b:
        return 0.0
    scorer = getattr(fuzz, algorithm)
    return float(scorer(a.lower().strip(), b.lower().strip())) / 100


def _fuzzy(decl: ClassifierDecl, text: str) -> dict[str, Any]:
    if decl.expected is not None:
        score = similarity(text, decl.expected, decl.algorithm)
        if score >= decl.threshold:
            return _fuzzy_result(decl.classes[0], score, decl.expected)
        return _fuzzy_result(decl.classes[1], 1.0 - score, None)
    best, best_score = None, 0.0
    for cls in decl.classes:
        score = similarity(text, cls, decl.algorithm)
        if score > best_score:
            best, best_score = cls, score
    if best is not None and best_score >= decl.threshold:
        return _fuzzy_result(best, best_score, best)
    return _fuzzy_result("NO_MATCH", 1.0 - best_score, None)


def _fuzzy_result(value: str, confidence: float, matched: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {"value": value, "confidence": confidence, "retry_count": 0}
    if matched is not None:
        result["matched_text"] = matched
    return result


def _field(output: Any, key: str) -> Any:
    return output.get(key) if isinstance(output, dict) else None


def _canonical(classes: list[str], value: Any) -> str | None:
    if value is None:
        return None
    wanted = str(value).strip().lower()
    return next((c for c in classes if c.lower() == wanted), None)


def _explanation(reply: str, value: str) -> str | None:
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    if lines and _MARKERS.sub("", lines[-1]).lower() == value.lower():
        lines.pop()
    return "\n".join(lines) or None


def _count(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise DeclarationError(f"Classify {key} must be a number of at least 0")
    return int(value)


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DeclarationError(f"Classify {key} must be a number")
    return float(value)
