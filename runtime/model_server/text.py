"""Deterministic text for the scripted model server: default answers, JSON values for a schema,
and the split of any text into token-like pieces."""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from typing import Any

# litellm aborts a stream after 100 identical consecutive chunks; stay far below that.
MAX_IDENTICAL_RUN = 40
_LONGEST_PIECE = 8
_SPLIT_AT = 6

_PIECE = re.compile(
    r"""
      \n+
    | [ ]?[^\W\d_]+
    | [ ]?\d{1,3}
    | [ ]?(?:[^\w\s]|_){1,3}
    | [^\S\n]+
    | .
    """,
    re.VERBOSE | re.DOTALL,
)


def tokenize(text: str) -> list[str]:
    """Split ``text`` into pieces shaped like model tokens; their concatenation is ``text``."""
    pieces: list[str] = []
    for match in _PIECE.finditer(text):
        piece = match.group()
        while len(piece) > _LONGEST_PIECE:
            pieces.append(piece[:_SPLIT_AT])
            piece = piece[_SPLIT_AT:]
        pieces.append(piece)
    return _break_runs(pieces)


def _break_runs(pieces: list[str]) -> list[str]:
    out: list[str] = []
    run = 0
    for piece in pieces:
        if out and piece == out[-1]:
            run += 1
            if run >= MAX_IDENTICAL_RUN:
                out[-1] += piece
                run = 1
                continue
        else:
            run = 1
        out.append(piece)
    return out


def message_text(message: dict[str, Any]) -> str:
    """The text of a chat message, whether its content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message)
    return ""


def estimate_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    chars = 0
    for message in messages:
        chars += len(message_text(message))
        for call in message.get("tool_calls") or []:
            chars += len(json.dumps(call.get("function", {}), ensure_ascii=False))
    return max(1, -(-chars // 4))


_STOPWORDS = frozenset(
    (
        "about", "above", "after", "again", "also", "and", "any", "are", "because", "been",
        "before", "being", "below", "between", "both", "but", "can", "could", "did", "does",
        "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have",
        "having", "her", "here", "hers", "him", "his", "how", "into", "its", "itself", "just",
        "more", "most", "not", "now", "off", "once", "only", "other", "our", "ours", "out", "over",
        "own", "please", "same", "she", "should", "some", "such", "than", "that", "the", "their",
        "theirs", "them", "then", "there", "these", "they", "this", "those", "through", "too",
        "under", "until", "very", "was", "were", "what", "when", "where", "which", "while", "who",
        "whom", "why", "will", "with", "would", "you", "your", "yours", "tell", "write", "give",
        "make", "answer"
    )
)  # fmt: skip
_NOUNS = (
    "system", "plan", "pattern", "detail", "process", "result", "idea", "signal", "question",
    "approach", "structure", "workflow", "design", "record", "boundary", "trade-off", "step",
    "example", "context", "outcome",
)  # fmt: skip
_OPENERS = (
    "", "", "", "In short,", "Put simply,", "As far as I can tell,", "On balance,",
    "Looking closer,", "To be fair,", "Overall,", "In practice,", "Interestingly,", "Still,",
)  # fmt: skip
_SUBJECTS = ("the {w}", "this {w}", "every {w}", "a good {w}", "the whole {w}", "our {w}")
_VERBS = (
    "depends on", "shapes", "connects to", "helps explain", "builds on", "changes",
    "points toward", "supports", "relies on", "clarifies", "leads to", "reflects",
)  # fmt: skip
_OBJECTS = (
    "the {w}", "a simpler {w}", "how each {w} fits", "the next {w}", "a clear {w}",
    "the {w} behind it", "{n} parts of the {w}", "more than one {w}",
)  # fmt: skip
_TAILS = (
    "", "", " over time", " in most cases", " without much effort", " when it matters",
    " for everyone involved", " step by step", " more often than not",
)  # fmt: skip
_QUESTIONS = ("Why does the {w} matter?", "What about the {w}?", "Is the {w} enough?")


class DefaultWriter:
    """Writes the answer to a request that the script does not cover.

    Everything is drawn from a generator seeded by a hash of the messages, so the same request
    always gets the same answer and different requests get different ones.
    """

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        canonical = json.dumps(messages, sort_keys=True, ensure_ascii=False, default=str)
        seed = int.from_bytes(hashlib.sha256(canonical.encode()).digest()[:8], "big")
        self._rng = random.Random(seed)
        self._keywords = _keywords(last_user_text(messages))
        self._unused = list(self._keywords)

    def answer(self) -> str:
        """A few sentences, about 40 to 80 pieces long, ending at a sentence boundary."""
        target = self._rng.randint(40, 60)
        text = self._sentence()
        while len(tokenize(text)) < target:
            text += self._separator() + self._sentence()
        return text

    def exact(self, count: int) -> list[str]:
        """Exactly ``count`` pieces of default text."""
        segments = [self._sentence()]
        # Counting the pieces of each segment keeps long answers linear; the final split of the
        # whole text is what counts, in case a piece spans two segments.
        estimate = len(tokenize(segments[0]))
        while True:
            while estimate < count:
                segments.append(self._separator() + self._sentence())
                estimate += len(tokenize(segments[-1]))
            pieces = tokenize("".join(segments))
            if len(pieces) >= count:
                return pieces[:count]
            estimate = len(pieces)

    def phrase(self, words: int = 3) -> str:
        return " ".join(self._word() for _ in range(words))

    def value_for_schema(self, schema: dict[str, Any]) -> Any:
        """A JSON value valid against the common subset of JSON Schema that models are asked
        to follow (the shapes pydantic and DSPy produce, with ``$defs`` references)."""
        return _SchemaFiller(self, schema).fill(schema, 0)

    def small_object(self) -> dict[str, Any]:
        return {"answer": self._sentence(), "confidence": round(self._rng.uniform(0.5, 1), 2)}

    def integer(self, low: int, high: int) -> int:
        return self._rng.randint(low, high)

    def number(self, low: float, high: float) -> float:
        return round(self._rng.uniform(low, high), 2)

    def choice(self, options: list[Any]) -> Any:
        return self._rng.choice(options)

    def _separator(self) -> str:
        return "\n\n" if self._rng.random() < 0.15 else " "

    def _word(self) -> str:
        if self._unused:
            return self._unused.pop(0)
        if self._keywords and self._rng.random() < 0.4:
            return self._rng.choice(self._keywords)
        return self._rng.choice(_NOUNS)

    def _sentence(self) -> str:
        rng = self._rng
        if rng.random() < 0.1:
            return rng.choice(_QUESTIONS).format(w=self._word())
        subject = rng.choice(_SUBJECTS).format(w=self._word())
        obj = rng.choice(_OBJECTS).format(w=self._word(), n=rng.randint(2, 12))
        opener = rng.choice(_OPENERS)
        words = f"{opener} {subject}" if opener else subject
        sentence = f"{words} {rng.choice(_VERBS)} {obj}{rng.choice(_TAILS)}"
        return sentence[0].upper() + sentence[1:] + rng.choice(".....!")


def _limits(schema: dict[str, Any]) -> tuple[float, float]:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if low is None:
        low = 0.0 if high is None else min(0.0, high - 100)
    if high is None:
        high = low + 100
    return float(low), float(max(low, high))


def _keywords(text: str) -> list[str]:
    seen: dict[str, str] = {}
    for word in re.findall(r"[^\W\d_][\w'-]*", text):
        lowered = word.lower()
        if len(lowered) >= 3 and lowered not in _STOPWORDS:
            seen.setdefault(lowered, word)
    return list(seen.values())[:8]


_FORMATS = {
    "date-time": "2024-05-17T09:30:00Z",
    "date": "2024-05-17",
    "time": "09:30:00",
    "email": "someone@example.com",
    "uri": "https://example.com/",
    "uuid": "8f14e45f-ceea-467f-a0e6-3b4d2f5e9a1c",
}
_MAX_DEPTH = 6


class _SchemaFiller:
    def __init__(self, writer: DefaultWriter, root: dict[str, Any]) -> None:
        self._writer = writer
        self._root = root

    def fill(self, schema: dict[str, Any], depth: int) -> Any:
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return self._writer.choice(schema["enum"])
        for key in ("anyOf", "oneOf"):
            if schema.get(key):
                return self._fill_choice(schema[key], depth)
        if schema.get("allOf"):
            return self.fill(self._merge(schema["allOf"]), depth)
        kind = self._kind(schema)
        if kind == "object":
            return self._fill_object(schema, depth)
        if kind == "array":
            return self._fill_array(schema, depth)
        if kind == "integer":
            return self._fill_integer(schema)
        if kind == "number":
            return self._fill_number(schema)
        if kind == "boolean":
            return self._writer.choice([True, False])
        if kind == "null":
            return None
        return self._fill_string(schema)

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in schema and seen < 32:
            target: Any = self._root
            for part in str(schema["$ref"]).lstrip("#/").split("/"):
                target = target.get(part, {}) if part and isinstance(target, dict) else target
            schema = target if isinstance(target, dict) else {}
            seen += 1
        return schema

    def _fill_choice(self, options: list[dict[str, Any]], depth: int) -> Any:
        resolved = [self._resolve(option) for option in options]
        concrete = [option for option in resolved if option.get("type") != "null"]
        if not concrete or (depth >= _MAX_DEPTH and len(concrete) < len(resolved)):
            return None
        return self.fill(concrete[0], depth)

    def _merge(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for part in map(self._resolve, parts):
            for key, value in part.items():
                if key == "properties":
                    merged.setdefault("properties", {}).update(value)
                elif key == "required":
                    merged.setdefault("required", []).extend(value)
                else:
                    merged.setdefault(key, value)
        return merged

    @staticmethod
    def _kind(schema: dict[str, Any]) -> str:
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if isinstance(kind, str):
            return kind
        if "properties" in schema:
            return "object"
        return "array" if "items" in schema else "string"

    def _fill_object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties", {})
        value = {key: self.fill(sub, depth + 1) for key, sub in properties.items()}
        for key in schema.get("required", []):
            value.setdefault(key, self._writer.phrase())
        return value

    def _fill_array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        low = int(schema.get("minItems", 0 if depth >= _MAX_DEPTH else 1))
        high = int(schema.get("maxItems", max(low, 3)))
        count = low if depth >= _MAX_DEPTH else self._writer.integer(low, max(low, min(high, 3)))
        prefix = schema.get("prefixItems", [])
        items = schema.get("items")
        item_schema = items if isinstance(items, dict) else {}
        return [
            self.fill(prefix[i] if i < len(prefix) else item_schema, depth + 1)
            for i in range(max(count, len(prefix)))
        ]

    def _fill_integer(self, schema: dict[str, Any]) -> int:
        low, high = _limits(schema)
        if "exclusiveMinimum" in schema:
            low = math.floor(schema["exclusiveMinimum"]) + 1
        if "exclusiveMaximum" in schema:
            high = math.ceil(schema["exclusiveMaximum"]) - 1
        low, high = math.ceil(low), math.floor(high)
        return self._writer.integer(low, max(low, high))

    def _fill_number(self, schema: dict[str, Any]) -> float:
        low, high = _limits(schema)
        value = self._writer.number(low, high)
        too_low = value < low or value <= schema.get("exclusiveMinimum", -math.inf)
        too_high = value > high or value >= schema.get("exclusiveMaximum", math.inf)
        return (low + high) / 2 if too_low or too_high else value

    def _fill_string(self, schema: dict[str, Any]) -> str:
        text = _FORMATS.get(str(schema.get("format")), "") or self._writer.phrase()
        minimum = int(schema.get("minLength", 0))
        while len(text) < minimum:
            text += " " + self._writer.phrase()
        if "maxLength" in schema:
            text = text[: int(schema["maxLength"])]
        return text
