"""Tag expressions for ``--tags``: ``@fast and not (@slow or @flaky)``.

``not`` binds tighter than ``and``, which binds tighter than ``or``; the ``@`` may be left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from runtime.errors import TideError

TagTest = Callable[[frozenset[str]], bool]
_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")


class TagExpressionError(TideError):
    kind = "usage"


def parse_tags(expression: str) -> TagTest:
    tokens = _TOKEN.findall(expression)
    if not tokens:
        raise TagExpressionError("--tags is empty", hint='e.g. --tags "@fast and not @slow"')
    parser = _Parser(tokens, expression)
    test = parser.expression()
    if parser.position < len(tokens):
        raise parser.error(f"unexpected '{tokens[parser.position]}'")
    return test


class _Parser:
    def __init__(self, tokens: list[str], source: str) -> None:
        self.tokens = tokens
        self.source = source
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position].lower() if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def error(self, message: str) -> TagExpressionError:
        return TagExpressionError(
            f"invalid tag expression {self.source!r}: {message}",
            hint='e.g. --tags "@fast and not @slow"',
        )

    def expression(self) -> TagTest:
        left = self.conjunction()
        while self.peek() == "or":
            self.take()
            right = self.conjunction()
            left = _either(left, right)
        return left

    def conjunction(self) -> TagTest:
        left = self.negation()
        while self.peek() == "and":
            self.take()
            right = self.negation()
            left = _both(left, right)
        return left

    def negation(self) -> TagTest:
        if self.peek() == "not":
            self.take()
            inner = self.negation()
            return lambda tags: not inner(tags)
        return self.atom()

    def atom(self) -> TagTest:
        token = self.peek()
        if token is None:
            raise self.error("it ends too early")
        if token == "(":
            self.take()
            inner = self.expression()
            if self.peek() != ")":
                raise self.error("a '(' is not closed")
            self.take()
            return inner
        if token in (")", "and", "or"):
            raise self.error(f"expected a tag, found '{self.take()}'")
        name = self.take()
        tag = (name if name.startswith("@") else "@" + name).lower()
        return lambda tags: tag in {t.lower() for t in tags}


def _either(left: TagTest, right: TagTest) -> TagTest:
    return lambda tags: left(tags) or right(tags)


def _both(left: TagTest, right: TagTest) -> TagTest:
    return lambda tags: left(tags) and right(tags)
