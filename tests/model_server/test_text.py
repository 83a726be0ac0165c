from __future__ import annotations

import itertools
from typing import Any, Literal

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from runtime.model_server.text import (
    MAX_IDENTICAL_RUN,
    DefaultWriter,
    estimate_prompt_tokens,
    tokenize,
)

TRICKY = [
    "",
    "Hello, world!",
    "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]",
    'He said "hi" and \\n is not a newline \\\\ ok',
    "```python\nprint('x')\n```\n",
    "emoji 👍🏽👨‍👩‍👧 café naïve 東京 مرحبا",
    "tabs\tand   spaces  \r\n windows\r\nlines",
    "snake_case_identifiers and __dunder__ 1234567 3.14159",
    "a" * 1000,
    "ab " * 500,
    "\n" * 300,
    "supercalifragilisticexpialidocious",
]


def longest_run(pieces: list[str]) -> int:
    return max((len(list(group)) for _, group in itertools.groupby(pieces)), default=0)


@pytest.mark.parametrize("text", TRICKY)
def test_pieces_rebuild_the_text_exactly(text: str) -> None:
    pieces = tokenize(text)
    assert "".join(pieces) == text
    assert all(pieces)
    assert longest_run(pieces) < MAX_IDENTICAL_RUN < 100


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_splits_into_pieces_that_rebuild_it(text: str) -> None:
    pieces = tokenize(text)
    assert "".join(pieces) == text
    assert longest_run(pieces) < MAX_IDENTICAL_RUN


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(["ab", " ", "[[", "]]", "\n", "x" * 9, "👍"]), min_size=1).map("".join)
)
def test_repetitive_text_never_gives_long_runs_of_identical_pieces(text: str) -> None:
    pieces = tokenize(text * 50)
    assert "".join(pieces) == text * 50
    assert longest_run(pieces) < MAX_IDENTICAL_RUN


def test_pieces_look_like_tokens() -> None:
    assert tokenize("Hello there, world!") == ["Hello", " there", ",", " world", "!"]
    assert tokenize(" extraordinarily") == [" extra", "ordina", "rily"]


def messages(text: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": "Be helpful."}, {"role": "user", "content": text}]


def test_default_answer_is_deterministic_and_depends_on_the_prompt() -> None:
    first = DefaultWriter(messages("Explain photosynthesis in plants")).answer()
    again = DefaultWriter(messages("Explain photosynthesis in plants")).answer()
    other = DefaultWriter(messages("Describe medieval castles")).answer()
    assert first == again
    assert first != other


def test_default_answer_is_readable_and_mentions_the_question() -> None:
    answers = [
        DefaultWriter(messages(f"Tell me about Glaciers number {n}")).answer() for n in range(20)
    ]
    for answer in answers:
        assert "Glaciers" in answer
        assert 40 <= len(tokenize(answer)) <= 100
        assert answer[0].isupper()
        assert answer.rstrip()[-1] in ".!?"
    assert len(set(answers)) == len(answers)


def test_user_content_given_as_parts_is_read() -> None:
    parts = [{"role": "user", "content": [{"type": "text", "text": "Volcanoes erupt"}]}]
    assert "Volcanoes" in DefaultWriter(parts).answer()


@pytest.mark.parametrize("count", [0, 1, 7, 100, 2000])
def test_exact_token_count(count: int) -> None:
    pieces = DefaultWriter(messages("benchmark")).exact(count)
    assert len(pieces) == count
    assert longest_run(pieces) < MAX_IDENTICAL_RUN


def test_prompt_tokens_are_a_quarter_of_the_characters() -> None:
    assert estimate_prompt_tokens([]) == 1
    assert estimate_prompt_tokens([{"role": "user", "content": "x" * 40}]) == 10
    assert estimate_prompt_tokens([{"role": "user", "content": "x" * 41}]) == 11


class Address(BaseModel):
    street: str
    city: str
    zip_code: str = Field(min_length=5, max_length=5)


class Person(BaseModel):
    name: str
    age: int = Field(ge=18, le=99)
    height: float = Field(gt=1.0, lt=2.5)
    email: str = Field(json_schema_extra={"format": "email"})
    tags: list[str] = Field(min_length=2, max_length=4)
    role: Literal["admin", "user", "guest"]
    active: bool
    home: Address
    previous: list[Address]
    nickname: str | None = None
    manager: Person | None = None


SCHEMAS: list[dict[str, Any]] = [
    Person.model_json_schema(),
    {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]},
    {"type": "array", "items": {"type": "integer", "minimum": 5, "maximum": 6}, "minItems": 2},
    {"type": "object", "required": ["unlisted"], "additionalProperties": True},
    {"enum": ["red", "green"]},
    {"const": 3},
    {"type": ["null", "number"], "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    {"allOf": [{"properties": {"a": {"type": "string"}}}, {"required": ["a"]}]},
    {"type": "string", "format": "date-time"},
    {"oneOf": [{"type": "boolean"}, {"type": "string"}]},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_values_generated_for_a_schema_are_valid(schema: dict[str, Any]) -> None:
    for prompt in ("one", "two", "three"):
        value = DefaultWriter(messages(prompt)).value_for_schema(schema)
        jsonschema.validate(value, schema)
