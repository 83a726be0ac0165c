"""What a run makes its host hold, counted against the run's memory limit.

The Lua heap is capped by the Lua state itself. What leaves Lua is not: declarations, state
values, tool arguments and results, log fields, messages to agents, the output, and the events
all of these make. Each is counted here when it crosses, and the run fails with kind
``memory_limit`` when the Lua heap and what was copied out together pass the limit. State
counts at its current size (a key set again replaces its old value); everything that
declarations, events and the tool ledger keep for the run counts for good.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runtime.errors import SandboxLimitError

# What a declaration costs Python beyond its values (its parsed form, its handle): about 2 KiB
# for an agent, measured; counted with room to spare.
DECLARATION_BYTES = 4096
# What an event costs whoever holds it on its way (the run's handlers, the store's writer, the
# IDE's relay: about 1.3 KB for a small log event, measured): a flood of empty ones counts too.
EVENT_BYTES = 1536
# What a state key costs besides its value's size: its text, its entry in the state's dict and
# in the Lua table kept in step with it (measured: about 180 bytes for a short key and a number).
STATE_KEY_BYTES = 160


class MemoryMeter:
    def __init__(self, limit: int, lua_heap: Callable[[], int]) -> None:
        self.limit = limit
        self._lua_heap = lua_heap
        self.held = 0
        self._state: dict[str, int] = {}

    def used(self) -> int:
        return self.held + self._lua_heap()

    def charge(self, size: int, what: str) -> None:
        """Count ``size`` more bytes held for the run; fail if that passes the limit."""
        self.held += size
        self._check(what)

    def check(self, size: int, what: str) -> None:
        """Fail if holding ``size`` more bytes would pass the limit (nothing is counted)."""
        if self.used() + size > self.limit:
            raise self.error(what, size)

    def room(self) -> int:
        """Bytes the run may still hold."""
        return max(0, self.limit - self.used())

    def set_state(self, key: str, size: int) -> None:
        """The state key ``key`` now holds a value of ``size`` bytes (0: removed)."""
        old = self._state.pop(key, None)
        before = 0 if old is None else _key_cost(key, old)
        after = 0
        if size:
            self._state[key] = size
            after = _key_cost(key, size)
        self.held += after - before
        if after > before:
            self._check(f"State key '{key}'")

    def state_size(self, key: str) -> int:
        return self._state.get(key, 0)

    def clear_state(self) -> None:
        self.held -= sum(_key_cost(key, size) for key, size in self._state.items())
        self._state.clear()

    def _check(self, what: str) -> None:
        if self.used() > self.limit:
            raise self.error(what, 0)

    def error(self, what: str, size: int) -> SandboxLimitError:
        mib = self.limit / (1024 * 1024)
        return SandboxLimitError(
            "memory_limit",
            f"{what} would take the run past its memory limit of {mib:.0f} MiB "
            f"(Lua's heap and what it handed to the host: {(self.used() + size) / 1048576:.0f} MiB)",
            hint="keep less in State, logs and tool results, or raise the limit (--max-memory)",
        )


def _key_cost(key: str, size: int) -> int:
    """What a state key holding a value of ``size`` bytes costs."""
    return size + len(key) + STATE_KEY_BYTES


def size_of(value: Any) -> int:
    """An estimate of the bytes a converted value holds (see ``runtime._convert``)."""
    if isinstance(value, str):
        return len(value) + 64
    if isinstance(value, dict):
        return 64 + sum(len(str(k)) + 64 + size_of(v) for k, v in value.items())
    if isinstance(value, list):
        return 64 + sum(64 + size_of(v) for v in value)
    return 32
