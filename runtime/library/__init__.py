"""The standard library's Python half: what ``Tool.called``, ``os.time``, ``Stop``,
``Iterations``, ``System.alert``, ``Sleep``, ``File``, ``tactus.io.*``, ``MessageHistory`` and
``Procedure.run`` do. One ``Library`` per ``Host``; its Lua half is ``runtime/lua/library.lua``.

Reads whose value differs from one run to the next (the clock) go through
``Library.nondeterministic``, one function a run can replace to record and replay them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runtime.declarations import AgentDecl
from runtime.errors import DeclarationError, TideError
from runtime.journal import journaled, nondeterministic
from runtime.library import control, files, history, subprocedure
from runtime.library.control import Control

if TYPE_CHECKING:
    from runtime.library._host import LibraryHost

# Namespaces the library answers, with the functions each has (the Lua half lists the same).
NAMESPACES = frozenset(
    {
        "Tool", "os", "Sleep", "Stop", "Iterations", "System", "File", "MessageHistory",
        "Procedure", *files.IO_MODULES,
    }
)  # fmt: skip
# Globals the library adds to the sandbox (for `tide validate`).
GLOBALS = frozenset(
    {
        "Tool", "Toolset", "os", "Sleep", "Stop", "Iterations", "System", "File",
        "MessageHistory", "Retry", "python",
    }
)  # fmt: skip

Reader = Callable[[], Any]


class Library:
    NAMESPACES = NAMESPACES

    def __init__(self, host: LibraryHost) -> None:
        self.host = host
        self.control = Control()
        self.files = files.Files(host.source.project_root, lambda: host.sandbox.max_memory)
        # The names inline tools were written with (before their toolset's or agent's prefix).
        self.inline_names: dict[int, str] = {}

    # -- called from Lua ---------------------------------------------------------------------------

    def lua_call(
        self, namespace: str, function: str, file: str | None, line: int | None, *args: Any
    ) -> Any:
        """A call of one of the library's namespaces, located at the caller's file:line."""
        host = self.host
        try:
            values = [host.data(a, f"{namespace}.{function}'s arguments") for a in args]
            if namespace == "Human":  # Human.notify, before the responder hears of it
                control.notify(host.effects, values, f"{file}:{line}" if file else None)
                return host.to_lua(host.effects.human(function, values))
            return host.to_lua(self.call(namespace, function, values))
        except TideError as exc:
            exc.locate(file, line)
            raise

    def handle_get(self, kind: str, ident: int, key: Any) -> Any:
        """A handle's fields: ``name``, and an agent's ``output`` (its last answer's text)."""
        decl = self.host.declaration(kind, ident)
        if key == "name":
            return decl.name
        if key == "output" and isinstance(decl, AgentDecl):
            return self.host.to_lua(self.host.effects.agent_method(decl, "output"))
        return None

    def call(self, namespace: str, function: str, args: list[Any]) -> Any:
        if namespace == "Tool":
            return self._tool(function, args)
        if namespace == "os":
            # A resumed run reads the clock as its first attempt did.
            read = time.time if function == "time" else time.thread_time
            return nondeterministic(self.host.effects, f"os.{function}", None, read)
        if namespace == "Sleep":
            seconds = control.seconds(args[0] if args else None)
            # A resumed run does not wait again for a pause it already took.
            return journaled(
                self.host.effects,
                "sleep",
                "Sleep",
                seconds,
                lambda: control.sleep(self.host, seconds),
            )
        if namespace in ("Stop", "Iterations", "System"):
            return self.control.call(self.host, namespace, function, args)
        if namespace == "MessageHistory":
            return history.call(self.host, function, args)
        if namespace == "Procedure":
            return subprocedure.run(self.host, args)
        if function == "write":
            # Reading a declaration never writes a file (`tide validate` stops here).
            before_write = getattr(self.host.effects, "before_file_write", None)
            if before_write is not None:
                before_write()
        return self.files.call(namespace, function, args)

    def _tool(self, function: str, args: list[Any]) -> Any:
        name = args[0] if args else None
        if not isinstance(name, str):
            raise DeclarationError(
                f'Tool.{function} expects a tool name, e.g. Tool.{function}("search")'
            )
        host = self.host
        if function == "get":
            tool = host.declarations.tool_named(name)
            if tool is None and name == "done":
                tool = host.done_tool()
            if tool is None:
                declared = [t.name or f"tool{t.id}" for t in host.declarations.tools.values()]
                raise DeclarationError(
                    f"no tool named '{name}' is declared (tools: {', '.join(sorted(declared)) or 'none'})",
                    hint=f"declare it: {name} = Tool {{ ... }}",
                )
            return host.handle("tool", tool.id)
        tool = host.declarations.tool_named(name)
        if tool is None and name == "done" and function != "called":
            tool = host.done_tool()
        if tool is None:
            return host.ledger.method(-1, function, name)
        return host.ledger.method(tool.id, function, name)
