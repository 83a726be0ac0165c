"""Tables kept in ``State`` stay the same Lua tables.

In Tactus, State holds the Lua value itself, so ``table.insert(state.trace, step)`` changes
what State holds. Tide's state is data (journaled, metered, read by specifications after the
run), so a table read from or written to State is remembered with the stored value it stands
for: later reads of that key give the same table, and the table is written back as data
whenever Python reads the state (before an agent's turn, around a journaled effect, at
``State.all`` and when a procedure returns). A key that is set or restored anew forgets it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lupa.lua54 as lupa

from runtime._state import StateStore


class LiveTables:
    def __init__(self, store: StateStore, write_back: Callable[[str, Any], None]) -> None:
        self._store = store
        self._write_back = write_back
        # key -> (the Lua table, the stored value it was converted to)
        self._tables: dict[str, tuple[Any, Any]] = {}

    def remember(self, key: str, table: Any) -> None:
        self._tables[key] = (table, self._store.values.get(key))

    def forget(self, key: str | None = None) -> None:
        if key is None:
            self._tables.clear()
        else:
            self._tables.pop(key, None)

    def current(self, key: str) -> Any:
        """The Lua table standing for ``key``'s value, or None once the value was replaced."""
        entry = self._tables.get(key)
        if entry is None:
            return None
        table, stored = entry
        values = self._store.values
        if key in values and values[key] is stored:
            return table
        del self._tables[key]
        return None

    def sync(self) -> None:
        """Write every remembered table back into the store as data."""
        for key in list(self._tables):
            table = self.current(key)
            if table is not None:
                self._write_back(key, table)
                self.remember(key, table)

    def lua_call(
        self,
        function: str,
        args: tuple[Any, ...],
        op: Callable[[str, tuple[Any, ...]], Any],
        to_lua: Callable[[Any], Any],
    ) -> Any:
        """A ``State`` call from Lua, done by ``op`` on the store; its result for Lua."""
        key = args[0] if args and isinstance(args[0], str) else None
        if function == "get" and key is not None:
            table = self.current(key)
            if table is not None:
                return table
        if function in ("all", "append", "increment"):
            self.sync()
        result = to_lua(op(function, args))
        if function == "clear":
            self.forget()
        elif key is not None and function in ("set", "append", "increment"):
            self.forget(key)
            if function == "set" and len(args) > 1 and lupa.lua_type(args[1]) == "table":
                self.remember(key, args[1])
        elif function == "get" and key in self._store.values and lupa.lua_type(result) == "table":
            self.remember(key, result)
        return result
