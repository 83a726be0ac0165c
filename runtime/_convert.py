"""Moving values between Lua and Python.

Lua tables become lists (keys 1..n) or dicts; handles (agents, tools, procedures) become
``HandleRef``; Lua functions stay Lua functions, to be called later in the Lua thread. Python
values go to Lua as fresh tables, never as live Python objects that Lua could mutate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lupa.lua54 as lupa

MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class HandleRef:
    kind: str
    id: int


def parse_handle(tag: str) -> HandleRef:
    kind, _, ident = tag.partition(":")
    return HandleRef(kind, int(ident))


def to_python(value: Any, *, _depth: int = 0) -> Any:
    kind = lupa.lua_type(value)
    if kind is None:
        return value
    if kind == "table":
        if _depth >= MAX_DEPTH:
            raise ValueError("table nested too deeply (or refers to itself)")
        tag = _handle_tag(value)
        if tag is not None:
            return parse_handle(tag)
        items = list(value.items())
        if not items:
            return {}
        keys = [k for k, _ in items]
        if all(isinstance(k, int) and not isinstance(k, bool) for k in keys):
            keys_set = set(keys)
            if keys_set == set(range(1, len(items) + 1)):
                ordered = sorted(items)
                return [to_python(v, _depth=_depth + 1) for _, v in ordered]
        return {_key(k): to_python(v, _depth=_depth + 1) for k, v in items}
    # Functions, coroutines and userdata stay as Lua objects.
    return value


def _handle_tag(table: Any) -> str | None:
    """The ``kind:id`` tag a handle table carries, or None for any other table."""
    try:
        tag = table["__tide_handle"]
    except Exception:  # an __index metamethod may raise
        return None
    return tag if isinstance(tag, str) else None


def _key(key: Any) -> str:
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)


def to_lua(runtime: lupa.LuaRuntime, value: Any) -> Any:
    """A Lua value for ``value``: tables are copies, so Lua never holds a Python container."""
    if isinstance(value, dict):
        table = runtime.table()
        for k, v in value.items():
            if v is not None:
                table[k] = to_lua(runtime, v)
        return table
    if isinstance(value, (list, tuple)):
        table = runtime.table()
        for i, v in enumerate(value, start=1):
            table[i] = to_lua(runtime, v)
        return table
    return value
