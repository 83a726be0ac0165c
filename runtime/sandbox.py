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

from runtime._lua_text import CODEC
from runtime.errors import ProcedureRuntimeError, ProcedureSyntaxError, SandboxLimitError, TideError
from runtime.event_size import clip

DEFAULT_MAX_MEMORY = 256 * 1024 * 1024
# Instructions between hook ticks: frequent enough to stop within microseconds, rare enough that
# the Python call costs about 1% of run time.
DEFAULT_HOOK_INTERVAL = 10_000
# Worst-case steps a single pattern match may take (see the prelude's pattern guard): about
# a second of C at worst on a busy 2-core machine.
PATTERN_BUDGET = 2e8
# Elements one call of table.move/concat/unpack/sort may cover, and the longest string.pack
# format: each is work in C that the hook cannot interrupt.
MAX_ITEMS = 1 << 24
MAX_FORMAT = 4096
# A sort without a comparison function runs wholly in C: under a second for this many.
MAX_C_SORT = 1 << 18
# The most text one `string.format("%q", ...)` may quote: about 0.2 s of C at worst.
MAX_QUOTED = 4 * 1024 * 1024
# The longest error message that leaves Lua (longer ones are cut, with a marker).
MAX_ERROR_BYTES = 16 * 1024
# Failures a host function reported to Lua, kept so that the one that ends the run keeps its
# kind and hint; only the most recent matter.
_RAISED_KEPT = 32

_PRELUDE = files("runtime").joinpath("lua/prelude.lua").read_text(encoding="utf-8")
_LIBRARY = files("runtime").joinpath("lua/library.lua").read_text(encoding="utf-8")
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
    # No file:line, or the sandbox's own code (a chunk run from Python, ``[string "..."]``):
    # C stack overflow raised as Python calls into Lua again. Its caller names the line.
    if match is None or match["file"].startswith('[string "'):
        return LuaLocation(None, None, match["message"] if match else head)
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
        self._pending: BaseException | None = None
        self._raised: dict[str, TideError] = {}
        self.max_memory = max_memory
        self.runtime = lupa.LuaRuntime(
            unpack_returned_tuples=True,
            register_eval=False,
            register_builtins=False,
            attribute_filter=_deny_attributes,
            max_memory=max_memory,
            encoding=CODEC,
        )
        # Where the procedure was when it was stopped (``stop_*``), and at the latest hook tick
        # (``tick_*``): what a memory error names, as Lua calls no handler for it.
        self._location = self.runtime.table()
        # The same place at the latest tick, readable from any thread without this state's
        # lock (which a call stuck in C holds): what a process stopped from outside names.
        self.last_seen: tuple[str, int | None] | None = None
        control = {
            "location": self._location,
            "aborted": self.aborted,
            "ticked": self._ticked,
            "out_of_memory": self._out_of_memory,
            "limits": self.runtime.table_from(
                {
                    "pattern_budget": PATTERN_BUDGET,
                    "max_bytes": max_memory,
                    "max_items": MAX_ITEMS,
                    "max_format": MAX_FORMAT,
                    "max_c_sort": MAX_C_SORT,
                    "max_error": MAX_ERROR_BYTES,
                    "max_quoted": MAX_QUOTED,
                }
            ),
        }
        calls = {name: self._settled(name, function) for name, function in host.items()}
        setup = self.runtime.execute(_PRELUDE)
        self.env, self._api = setup(
            self.runtime.table_from(control), self.runtime.table_from(calls), hook_interval
        )
        self._api.install_library(self.runtime.execute(_LIBRARY))
        self.identity: Callable[[Any], tuple[str, str | None]] = self._api.identity
        lua_globals = self.runtime.globals()
        for name in _REMOVED_GLOBALS:
            lua_globals[name] = None

    def _settled(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function`` as Lua calls it: results as ``(True, ...)``, a failure as ``(False,
        message, located)`` for the prelude to raise as a Lua error (``(False,)``: stopping)."""

        def call(*args: Any) -> tuple[Any, ...]:
            # Every call into the host is a point where a stopped run stops: a loop of host calls
            # (logging, state) may run few instructions between the hook's ticks, slowly.
            if self.aborted():
                return (False,)
            try:
                result = function(*args)
            except TideError as exc:
                self._keep(exc)
                return False, str(exc), exc.file is not None
            except RecursionError:
                error = ProcedureRuntimeError(f"{name}: the value is nested too deeply")
                self._keep(error)
                return False, error.message, False
            except MemoryError:
                self.abort("memory")
                return (False,)
            except Exception as exc:
                error = ProcedureRuntimeError(f"{name}: {exc or type(exc).__name__}")
                self._keep(error)
                return False, error.message, False
            except BaseException as exc:
                # A stop (the run's, or an inspection's): Lua unwinds, ``call`` re-raises it.
                self._pending = exc
                return (False,)
            if isinstance(result, tuple):
                return (True, *result)
            return True, result

        return call

    def _keep(self, error: TideError) -> None:
        self._raised.pop(error.message, None)
        self._raised[error.message] = error
        while len(self._raised) > _RAISED_KEPT:
            del self._raised[next(iter(self._raised))]

    # -- stopping -------------------------------------------------------------------------

    def abort(self, reason: str) -> None:
        """Stop the code running in this sandbox (thread-safe). The first reason wins."""
        with self._abort_lock:
            if self._abort_reason is None:
                self._abort_reason = reason

    def _ticked(self, file: str | None, line: int | None) -> bool:
        """The hook's tick: where procedure code is (when known), and whether to stop."""
        if file is not None:
            self.last_seen = (file, line)
        return self.aborted()

    def aborted(self) -> bool:
        if self._pending is not None:
            return True
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
            message = clip(where.message, MAX_ERROR_BYTES)
            raise ProcedureSyntaxError(message, file=where.file or chunkname, line=where.line)
        return chunk

    def call(self, function: Any, *args: Any) -> Any:
        """Call a Lua function, turning Lua errors into ``TideError``s with file:line."""
        if lupa.lua_type(function) is None:
            # Data that was declared where a function belongs: Lua must never call Python.
            raise ProcedureRuntimeError(f"a {type(function).__name__} is not a Lua function")
        try:
            result = self._api.call(function, *args)
        except lupa.LuaMemoryError:
            self.abort("memory")
            raise self.limit_error() from None
        except lupa.LuaError as exc:
            pending, self._pending = self._pending, None
            if pending is not None and not isinstance(pending, SandboxAbort):
                raise pending from None
            if self._abort_reason is not None or self.aborted():
                raise self.limit_error(str(exc)) from None
            where = split_location(str(exc))
            file, line = where.file, where.line
            if file is None:
                # Every frame of procedure code was left by tail calls (`return again({})`):
                # the line procedure code was last seen at.
                file, line = self._location["tick_file"], self._location["tick_line"]
            known = self._raised.get(where.message)
            if known is not None:
                known.locate(file, line)
                raise known from None
            raise ProcedureRuntimeError(where.message, file=file, line=line) from None
        except SandboxAbort:
            raise self.limit_error() from None
        except TideError:
            if self._abort_reason is not None:
                raise self.limit_error() from None
            raise
        # A stop that something swallowed on the way (a host call that caught Lua's error)
        # still ends the run: a stopped run never ends as if it had finished.
        if self._abort_reason is not None:
            raise self.limit_error()
        return result

    def limit_error(self, where: str | None = None) -> SandboxLimitError:
        """The error for a stopped run; ``where`` is Lua's traceback, for the file:line."""
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
        file, line = _innermost_procedure_frame(where or "")
        if file is None:
            file, line = self._location["stop_file"], self._location["stop_line"]
        if file is None:
            file, line = self._location["tick_file"], self._location["tick_line"]
        return SandboxLimitError(
            "memory_limit" if reason == "memory" else reason,
            messages.get(reason, f"the run was stopped: {reason}"),
            hint=hints.get(reason),
            file=file,
            line=line,
        )

    # -- DSL support ------------------------------------------------------------------------

    def make_handle(self, kind: str, ident: int, methods: tuple[str, ...]) -> Any:
        return self._api.make_handle(kind, ident, self.runtime.table_from(list(methods)))

    def set_inputs(self, values: Any) -> None:
        self._api.set_inputs(values)


_FRAME = re.compile(r"^\t(?P<file>[^\[\t][^:\n]*):(?P<line>\d+): in ", re.M)


def _innermost_procedure_frame(traceback: str) -> tuple[str | None, int | None]:
    """The first frame of procedure code in a Lua traceback (the prelude's are ``[string]``)."""
    match = _FRAME.search(traceback)
    return (match["file"], int(match["line"])) if match else (None, None)


def _deny_attributes(obj: object, name: str, is_setting: bool) -> str:
    raise AttributeError("Python attributes are not accessible from procedures")
