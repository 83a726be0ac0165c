"""A static look at Lua source: names that are called but never defined anywhere.

Scopes are ignored on purpose: a name defined anywhere counts as defined, so this never
reports a false error; it catches typos like calling ``writter()`` for ``writer``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import get_close_matches

_TOKEN = re.compile(
    r"""
    (?P<newline>\n)
  | (?P<space>[ \t\r\f\v]+)
  | (?P<comment>--(?:\[(?P<ceq>=*)\[[\s\S]*?\](?P=ceq)\]|[^\n]*))
  | (?P<long>\[(?P<leq>=*)\[[\s\S]*?\](?P=leq)\])
  | (?P<string>"(?:\\[\s\S]|[^"\\\n])*"|'(?:\\[\s\S]|[^'\\\n])*')
  | (?P<number>0[xX][0-9a-fA-F.]+(?:[pP][+-]?\d+)?|\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\.\.\.|\.\.|==|~=|<=|>=|<<|>>|//|::|[-+*/%^#&~|<>=(){}\[\];:,.])
  | (?P<other>.)
    """,
    re.X,
)
KEYWORDS = frozenset(
    [
        "and",
        "break",
        "do",
        "else",
        "elseif",
        "end",
        "false",
        "for",
        "function",
        "goto",
        "if",
        "in",
        "local",
        "nil",
        "not",
        "or",
        "repeat",
        "return",
        "then",
        "true",
        "until",
        "while",
    ]
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    line: int
    column: int


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    line, line_start = 1, 0
    for match in _TOKEN.finditer(source):
        kind = match.lastgroup or "other"
        text = match[0]
        if kind not in ("space", "newline", "comment"):
            tokens.append(
                Token(
                    "string" if kind == "long" else kind, text, line, match.start() - line_start + 1
                )
            )
        newlines = text.count("\n")
        if newlines:
            line += newlines
            line_start = match.start() + text.rindex("\n") + 1
    return tokens


@dataclass(frozen=True)
class UndefinedCall:
    name: str
    line: int
    column: int
    suggestion: str | None


def undefined_calls(source: str, known_globals: frozenset[str]) -> list[UndefinedCall]:
    tokens = tokenize(source)
    defined: set[str] = set(known_globals)
    for i, token in enumerate(tokens):
        if token.kind != "name" or token.text in KEYWORDS:
            continue
        prev = tokens[i - 1].text if i else ""
        nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
        if prev in ("local", "function", "for", ",", "(") or (
            nxt in ("=", ",", "in") and prev not in (".", ":")
        ):
            defined.add(token.text)
        if prev == "(" or prev == ",":
            defined.add(token.text)
    problems = []
    for i, token in enumerate(tokens):
        if token.kind != "name" or token.text in KEYWORDS or token.text in defined:
            continue
        before = tokens[i - 1].text if i else ""
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if before in (".", ":", "goto", "::") or after is None:
            continue
        if after.text in ("(", "{") or after.kind == "string":
            close = get_close_matches(token.text, sorted(defined - known_globals), n=1)
            problems.append(
                UndefinedCall(token.text, token.line, token.column, close[0] if close else None)
            )
    return problems
