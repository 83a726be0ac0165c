from __future__ import annotations

from typing import Any

import pytest

from runtime.testing.values import contains, lookup, parse_json_argument, parse_value, values_equal


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ('"quoted text"', "quoted text"),
        ("'single'", "single"),
        ('"with \\"escapes\\""', 'with "escapes"'),
        ("3", 3),
        ("-2.5", -2.5),
        ("true", True),
        ("False", False),
        ("nil", None),
        ("null", None),
        ('{"a": [1, 2]}', {"a": [1, 2]}),
        ("{'a': True}", {"a": True}),
        ("[1, 'x']", [1, "x"]),
        ("plain words", "plain words"),
        ("{not json", "{not json"),
    ],
)
def test_parse_value(raw: str, value: Any) -> None:
    assert parse_value(raw) == value
    assert type(parse_value(raw)) is type(value)


@pytest.mark.parametrize(
    ("actual", "expected", "equal"),
    [
        (True, True, True),
        ("True", True, True),
        (1, True, False),
        (3, 3.0, True),
        ("3", 3, True),
        (3.5, 3, False),
        (None, None, True),
        ("", None, False),
        ("done", "done", True),
        (7, "7", True),
        (False, "false", True),
        ({"a": 1}, {"a": 1.0}, True),
        ('{"a": 1}', {"a": 1}, True),
        ([1, 2], [2, 1], False),
    ],
)
def test_values_equal(actual: Any, expected: Any, equal: bool) -> None:
    assert values_equal(actual, expected) is equal


def test_contains_and_lookup() -> None:
    assert contains("hello world", "world")
    assert contains(["a", 2], 2)
    assert contains({"key": 1}, "key")
    assert contains({"key": "value"}, "value")
    assert not contains(None, "x")
    assert lookup({"a": {"b": [10, 20]}}, "a.b.2") == (True, 20)
    assert lookup({"a": 1}, "a.b") == (False, None)
    assert parse_json_argument('"{\\"q\\": 1}"') == {"q": 1}
    with pytest.raises(ValueError):
        parse_json_argument("{nope")
