from __future__ import annotations

import pytest

from runtime.testing.tags import TagExpressionError, parse_tags


@pytest.mark.parametrize(
    ("expression", "tags", "expected"),
    [
        ("@fast", {"@fast"}, True),
        ("@fast", {"@slow"}, False),
        ("fast", {"@fast"}, True),
        ("@FAST", {"@fast"}, True),
        ("@fast and not @slow", {"@fast"}, True),
        ("@fast and not @slow", {"@fast", "@slow"}, False),
        ("@a or @b and @c", {"@a"}, True),
        ("@a or @b and @c", {"@b"}, False),
        ("(@a or @b) and @c", {"@a"}, False),
        ("(@a or @b) and @c", {"@b", "@c"}, True),
        ("not (@a or @b)", set(), True),
        ("not not @a", {"@a"}, True),
    ],
)
def test_tag_expressions(expression: str, tags: set[str], expected: bool) -> None:
    assert parse_tags(expression)(frozenset(tags)) is expected


@pytest.mark.parametrize("expression", ["", "@a and", "(@a", "@a @b", "and @a", "@a)"])
def test_invalid_tag_expressions(expression: str) -> None:
    with pytest.raises(TagExpressionError):
        parse_tags(expression)
