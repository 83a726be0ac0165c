"""A sandboxed Lua 5.4 state: limited globals, a memory cap, and a hook that stops runaway code.

One ``Sandbox`` serves one run (or one inspection of a procedure). All calls into it happen on
one thread. ``abort`` may be called from any thread: the next hook tick raises inside Lua.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import lupa.lua54 as lupa

from runtime.errors import ProcedureRuntimeError, ProcedureSyntaxError, SandboxLimitError, TideError

DEFAULT_MAX_MEMORY = 256 * 1024 * 1024
# Instructions between hook ticks: frequent enough to stop within microseconds, rare enough that
# the Python call costs about 1% of run time.
DEFAULT_HOOK_INTERVAL = 10_000
# Worst-case steps a single pattern match may take (see the prelude's pattern guard).
PATTERN_BUDGET = 2e8

_PRELUDE = files("runtime").joinpath("lua/prelude.lua").read_text(encoding="utf-8")
_LOCATION = re.compile(r"^(?P<file>[^\n:]+):(?P<line>\d+): (?P<message>.*)$", re.S)
_REMOVED_GLOBALS = (
    "os", "io", "debug", "package", "load", "loadstring", "dofile", "loadfile",
    "collectgarbage", "require", "python",
)  # fmt: skip


class SandboxAbort(BaseException):
    """Raised inside Lua to unwind a stopped run. A BaseException, so ordinary handlers in the
    bridge do not mistake it for a procedure error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LuaLocation:
    file: str | None
    line: int | None
    message: str


def split_location(message: str) -> LuaLocation:
    """Split ``file:line: message`` (and drop Lua's stack traceback)."""
    head = message.split("\nstack traceback:", 1)[0].strip()
    match = _LOCATION.match(head)
    if match is None:
        return LuaLocation(None, None, head)
    return LuaLocation(match["file"], int(match["line"]), match["message"])


class Sandbox:
    def __init__(
        self,
        host: dict[str, Callable[..., Any]],
        *,
        max_memory: int = DEFAULT_MAX_MEMORY,
        hook_interval: int = DEFAULT_HOOK_INTERVAL,
        deadline: float | None = None,
    ) -> None:
        self._abort_reason: str | None = None
        self._abort_lock = threading.Lock()
        self._deadline = deadline
        self.runtime = lupa.LuaRuntime(
            unpack_returned_tuples=True,
            register_eval=False,
            register_builtins=False,
            attribute_filter=_deny_attributes,
            max_memory=max_memory,
        )
        functions: dict[str, Any] = dict(host)
        functions.update(
            check=self.check,
            aborted=self.aborted,
            out_of_memory=self._out_of_memory,
            pattern_budget=PATTERN_BUDGET,
        )
        setup = self.runtime.execute(_PRELUDE)
        self.env, self._api = setup(self.runtime.table_from(functions), hook_interval)
        lua_globals = self.runtime.globals()
        for name in _REMOVED_GLOBALS:
            lua_globals[name] = None

    # -- stopping -------------------------------------------------------------------------

    def abort(self, reason: str) -> None:
        """Stop the code running in this sandbox (thread-safe). The first reason wins."""
        with self._abort_lock:
            if self._abort_reason is None:
                self._abort_reason = reason

    def aborted(self) -> bool:
        deadline = self._deadline
        if self._abort_reason is None and deadline is not None and time.monotonic() > deadline:
            self.abort("timeout")
        return self._abort_reason is not None

    @property
    def abort_reason(self) -> str | None:
        return self._abort_reason

    def check(self) -> None:
        if self.aborted():
            raise SandboxAbort(self._abort_reason or "cancelled")

    def _out_of_memory(self) -> None:
        self.abort("memory")

    # -- running code -----------------------------------------------------------------------

    def compile(self, source: str, chunkname: str) -> Any:
        """Compile procedure source; ``chunkname`` is the file name errors will show."""
        chunk, error = self.runtime.execute(
            "local api, src, name = ...; local f, e = api.compile(src, name); return f or false, e",
            self._api,
            source,
            "@" + chunkname,
        )
        if chunk is False:
            where = split_location(str(error))
            raise ProcedureSyntaxError(where.message, file=where.file or chunkname, line=where.line)
        return chunk

    def call(self, function: Any, *args: Any) -> Any:
        """Call a Lua function, turning Lua errors into ``TideError``s with file:line."""
        try:
            return function(*args)
        except lupa.LuaMemoryError:
            self.abort("memory")
            raise self.limit_error() from None
        except lupa.LuaError as exc:
            if self.aborted():
                raise self.limit_error() from None
            where = split_location(str(exc))
            raise ProcedureRuntimeError(where.message, file=where.file, line=where.line) from None
        except SandboxAbort:
            raise self.limit_error() from None
        except TideError:
            if self._abort_reason is not None:
                raise self.limit_error() from None
            raise

    def limit_error(self) -> SandboxLimitError:
        reason = self._abort_reason or "cancelled"
        messages = {
            "timeout": "the procedure ran out of time",
            "memory": "the procedure ran out of memory",
            "cancelled": "the run was cancelled",
        }
        hints = {
            "timeout": "raise the limit with --timeout SECONDS, or look for a loop that never ends",
            "memory": "the sandbox's memory is capped; look for a table that grows without end",
        }
        return SandboxLimitError(
            reason, messages.get(reason, f"the run was stopped: {reason}"), hint=hints.get(reason)
        )

    # -- DSL support ------------------------------------------------------------------------

    def make_handle(self, kind: str, ident: int, methods: tuple[str, ...]) -> Any:
        return self._api.make_handle(kind, ident, self.runtime.table_from(list(methods)))

    def set_inputs(self, values: Any) -> None:
        self._api.set_inputs(values)


def _deny_attributes(obj: object, name: str, is_setting: bool) -> str:
    raise AttributeError("Python attributes are not accessible from procedures")
