"""What the library needs from the host it serves (``runtime.host.Host`` provides it)."""

from __future__ import annotations

from typing import Any, Protocol

from runtime.declarations import AgentDecl, Declarations, ProcedureDecl, ToolDecl
from runtime.sandbox import Sandbox
from runtime.source import ProcedureSource
from runtime.tools import ToolLedger


class LibraryHost(Protocol):
    source: ProcedureSource
    declarations: Declarations
    effects: Any
    sandbox: Sandbox
    ledger: ToolLedger
    library: Any
    # The agent called most recently (the one whose turn is running, inside its tools).
    current_agent: AgentDecl | None

    def new_id(self) -> int: ...

    def register_tool(self, tool: ToolDecl) -> Any: ...

    def done_tool(self) -> ToolDecl: ...

    def handle(self, kind: str, ident: int) -> Any: ...

    def declaration(self, kind: str, ident: int) -> Any: ...

    def data(self, value: Any, what: str) -> Any: ...

    def to_lua(self, value: Any) -> Any: ...

    def call_subprocedure(self, procedure: ProcedureDecl, arguments: Any) -> Any: ...
