"""A static look at the library's namespaces: ``Stop.requst()`` or ``os.getenv`` is reported
by ``tide validate`` with its line and column, before anything runs."""

from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches

from runtime._lint import tokenize

# What each namespace of the library offers (the sandbox's tables are checked against this).
FUNCTIONS: dict[str, tuple[str, ...]] = {
    "Tool": ("called", "last_result", "last_call", "call_count", "get"),
    "Procedure": ("run",),
    "Stop": ("request", "requested", "reason", "success"),
    "Iterations": ("current", "exceeded", "increment", "reset"),
    "System": ("alert",),
    "File": ("read", "write", "exists", "size"),
    "MessageHistory": (
        "append", "inject_system", "get", "clear", "replace", "reset", "head", "tail", "slice",
        "rewind", "keep_head", "keep_tail",
    ),
    "Retry": ("with_backoff",),
    "os": ("time", "date", "clock"),
    "python": ("iter",),
}  # fmt: skip


# Namespaces that also hold data (``State.count = 1``): only a *call* of a name they do not
# offer is a mistake.
CALLED: dict[str, tuple[str, ...]] = {
    "State": ("get", "set", "increment", "append", "all", "clear"),
}


@dataclass(frozen=True)
class Misuse:
    message: str
    line: int
    column: int
    hint: str


def misuses(source: str) -> list[Misuse]:
    tokens = tokenize(source)
    # A file that binds one of these names itself (`local os = ...`) means its own.
    rebound = {
        t.text
        for i, t in enumerate(tokens)
        if t.text in FUNCTIONS
        and (
            (i and tokens[i - 1].text in ("local", "function", ","))
            or (i + 1 < len(tokens) and tokens[i + 1].text == "=")
        )
    }
    rebound |= {
        t.text
        for i, t in enumerate(tokens)
        if t.text in CALLED and i and tokens[i - 1].text in ("local", "function", ",")
    }
    found = []
    for i, token in enumerate(tokens[:-2]):
        known = FUNCTIONS.get(token.text) or CALLED.get(token.text)
        if known is None or token.text in rebound or token.kind != "name":
            continue
        if i and tokens[i - 1].text in (".", ":"):
            continue
        dot, member = tokens[i + 1], tokens[i + 2]
        if dot.text not in (".", ":") or member.kind != "name" or member.text in known:
            continue
        after = tokens[i + 3] if i + 3 < len(tokens) else None
        if after is not None and after.text == "=":
            continue
        if token.text in CALLED and (after is None or after.text not in ("(", "{")):
            continue
        close = get_close_matches(member.text, known, n=1)
        found.append(
            Misuse(
                f"{token.text}.{member.text} does not exist",
                member.line,
                member.column,
                f"did you mean {token.text}.{close[0]}?"
                if close
                else f"{token.text} has: " + ", ".join(known),
            )
        )
    return found
