"""Moving values between Lua and Python.

Lua tables become lists (keys 1..n) or dicts; handles (agents, tools, procedures) become
``HandleRef``. Python values go to Lua as fresh tables, never as live Python objects that Lua
could mutate, and a ``HandleRef`` goes back as the handle itself: Lua never holds a Python
object.

What Lua hands over is data (state, tool arguments, outputs, log fields), except in
declarations, where Lua functions are kept to be called later. In data, a function or
userdata becomes the text ``<function>``/``<userdata>``, a table inside itself ``<cycle>``;
NaN and infinities are refused (they are not JSON) except in log fields, which show them as
text. Nesting deeper than ``MAX_DEPTH`` and values of more than ``MAX_ENTRIES`` entries are
refused with a clear error, and each conversion reports the bytes it made Python hold; given
``room``, it stops (``TooLarge``) as soon as it passes that many, rather than copy the rest.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import lupa.lua54 as lupa

from runtime.errors import ProcedureRuntimeError
from runtime.event_size import MAX_FIELD_CHARS, clip

MAX_DEPTH = 100
MAX_ENTRIES = 1_000_000
INT64 = (-(2**63), 2**63 - 1)
# What Python spends on a value beyond its text: an estimate used for memory accounting.
_ITEM_BYTES = 64

Mode = Literal["declare", "data", "log"]
# A table's identity (for cycles) and, for a handle, its ``kind:id`` tag: read by the sandbox
# without running any metamethod of the table's.
Identity = Callable[[Any], tuple[str, str | None]]


class TooLarge(Exception):
    """A conversion passed the bytes it had room for: ``size``, when it stopped."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


@dataclass(frozen=True, slots=True)
class HandleRef:
    kind: str
    id: int

    def __str__(self) -> str:
        return f"<{self.kind} {self.id}>"


def parse_handle(tag: str) -> HandleRef:
    kind, _, ident = tag.partition(":")
    if not (kind.isalpha() and ident.isascii() and ident.isdigit() and len(ident) < 19):
        raise ProcedureRuntimeError(
            f"{_short_text(tag)!r} is not a handle: the field __tide_handle is reserved for "
            "the handles of agents, tools and procedures"
        )
    return HandleRef(kind, int(ident))


def _short_text(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


class _Walk:
    __slots__ = ("bytes", "check", "entries", "identity", "mode", "path", "room")

    def __init__(
        self,
        mode: Mode,
        identity: Identity | None,
        check: Callable[[], None] | None = None,
        room: int | None = None,
    ) -> None:
        self.mode = mode
        self.identity = identity
        self.check = check
        self.room = room
        self.path: set[Any] = set()
        self.bytes = 0
        self.entries = 0


def measure(
    value: Any,
    *,
    mode: Mode = "data",
    identity: Identity | None = None,
    check: Callable[[], None] | None = None,
    room: int | None = None,
) -> tuple[Any, int]:
    """A Python value for a Lua value (without ``identity`` no table is a handle) and an
    estimate of the bytes it holds; ``check`` is called now
    and then, to stop a long conversion of a run that has been stopped. Raises ``TooLarge``
    once the result passes ``room`` bytes."""
    walk = _Walk(mode, identity, check, room)
    result = _from_lua(value, walk, 0)
    return result, walk.bytes


def _from_lua(value: Any, walk: _Walk, depth: int) -> Any:
    walk.entries += 1
    if walk.entries > MAX_ENTRIES:
        raise ProcedureRuntimeError(
            f"a value of more than {MAX_ENTRIES:,} entries (a table counts for 10) cannot leave "
            "the procedure"
        )
    if isinstance(value, str):
        if walk.mode == "log" and len(value) > MAX_FIELD_CHARS:
            value = clip(value)
        walk.bytes += len(value) + _ITEM_BYTES
        if walk.room is not None and walk.bytes > walk.room:
            raise TooLarge(walk.bytes)
        return value
    if isinstance(value, bool) or value is None or isinstance(value, int):
        walk.bytes += _ITEM_BYTES // 2
        return value
    if isinstance(value, float):
        walk.bytes += _ITEM_BYTES // 2
        if math.isfinite(value) or walk.mode == "declare":
            return value
        if walk.mode == "log":
            return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        raise ProcedureRuntimeError(
            f"{value} is not a number JSON can hold: NaN and infinities cannot leave the procedure",
            hint="check for a division by zero",
        )
    if isinstance(value, bytes):
        return _from_lua(value.decode("utf-8", "replace"), walk, depth)
    kind = lupa.lua_type(value)
    if kind != "table":
        if walk.mode == "declare" and kind is not None:
            return value
        walk.bytes += _ITEM_BYTES
        return f"<{kind or type(value).__name__}>"
    # A table costs a call into Lua (its identity) besides its entries: it counts for more.
    walk.entries += 9
    if walk.check is not None and walk.entries & 0x3FF < 10:
        walk.check()
    ident, tag = walk.identity(value) if walk.identity is not None else (None, None)
    if tag is not None:
        walk.bytes += _ITEM_BYTES
        return parse_handle(tag)
    if depth >= MAX_DEPTH:
        if walk.mode == "log":
            return "<nested too deeply>"
        raise ProcedureRuntimeError(
            f"a value nested more than {MAX_DEPTH} levels deep cannot leave the procedure"
        )
    if ident is not None:
        if ident in walk.path:
            return "<cycle>"
        walk.path.add(ident)
    try:
        # Each value converted as it is reached: the limits above stop a large table before
        # the rest of it is copied.
        items = [(k, _from_lua(v, walk, depth + 1)) for k, v in value.items()]
        walk.bytes += _ITEM_BYTES * (1 + len(items))
        if not items:
            return {}
        keys = [k for k, _ in items]
        if all(isinstance(k, int) and not isinstance(k, bool) for k in keys) and set(keys) == set(
            range(1, len(items) + 1)
        ):
            return [v for _, v in sorted(items, key=_first)]
        return {_key(k): v for k, v in items}
    finally:
        if ident is not None:
            walk.path.discard(ident)


def _first(item: tuple[Any, Any]) -> Any:
    return item[0]


def _key(key: Any) -> str:
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    if isinstance(key, bytes):
        return key.decode("utf-8", "replace")
    if isinstance(key, (str, int, float, bool)):
        return str(key)
    kind = lupa.lua_type(key)
    return f"<{kind or type(key).__name__}>"


def to_lua(
    runtime: lupa.LuaRuntime,
    value: Any,
    handle: Callable[[HandleRef], Any] | None = None,
    *,
    check: Callable[[], None] | None = None,
) -> Any:
    """A Lua value for ``value``: tables are copies, so Lua never holds a Python container;
    a ``HandleRef`` becomes its handle (``handle``), anything else not JSON-like its text.
    ``check`` is called now and then, to stop a long conversion of a run that has been
    stopped; more than ``MAX_ENTRIES`` entries are refused."""
    return _to_lua(runtime, value, handle, _Count(check), 0)


class _Count:
    __slots__ = ("check", "entries")

    def __init__(self, check: Callable[[], None] | None) -> None:
        self.check = check
        self.entries = 0

    def add(self) -> None:
        self.entries += 1
        if self.entries > MAX_ENTRIES:
            raise self.too_many()
        if self.check is not None and self.entries & 0x3FF == 0:
            self.check()

    @staticmethod
    def too_many() -> ProcedureRuntimeError:
        return ProcedureRuntimeError(
            f"a value of more than {MAX_ENTRIES:,} entries cannot reach the procedure"
        )


def _to_lua(
    runtime: lupa.LuaRuntime,
    value: Any,
    handle: Callable[[HandleRef], Any] | None,
    count: _Count,
    depth: int,
) -> Any:
    count.add()
    if isinstance(value, (str, bool, float)) or value is None:
        return value
    if isinstance(value, int):
        if not INT64[0] <= value <= INT64[1]:
            raise ProcedureRuntimeError(
                f"the integer {_short(value)} does not fit in Lua's 64-bit integers"
            )
        return value
    if depth >= MAX_DEPTH:
        raise ProcedureRuntimeError(
            f"a value nested more than {MAX_DEPTH} levels deep cannot reach the procedure"
        )
    if isinstance(value, (dict, list, tuple)) and count.entries + len(value) > MAX_ENTRIES:
        raise count.too_many()  # at once, rather than after building the part that fits
    if isinstance(value, dict):
        table = runtime.table()
        for k, v in value.items():
            if v is not None:
                table[k] = _to_lua(runtime, v, handle, count, depth + 1)
        return table
    if isinstance(value, (list, tuple)):
        table = runtime.table()
        for i, v in enumerate(value, start=1):
            table[i] = _to_lua(runtime, v, handle, count, depth + 1)
        return table
    if isinstance(value, HandleRef):
        return handle(value) if handle is not None else str(value)
    if lupa.lua_type(value) is not None:
        return value
    return str(value)


def _short(number: int) -> str:
    text = str(number) if number.bit_length() < 4000 else f"of {number.bit_length()} bits"
    return text if len(text) <= 40 else text[:37] + "..."
