"""Tide's runtime: run AI-agent workflows written in Lua.

The public surface: ``run_procedure`` / ``run_procedure_sync`` / ``Runtime`` to run procedures,
``inspect_procedure`` to read one, log handlers, and the event types.

Names are imported on first use, so that importing a part of the runtime (the ``tide``
command, a worker's client) does not pay for the whole of it.
"""

# The imports under TYPE_CHECKING are the public names (see _public_names), not unused ones.
# ruff: noqa: F401

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.api import Runtime, run_procedure, run_procedure_sync
    from runtime.config import RuntimeConfig
    from runtime.errors import (
        AgentError,
        ConfigurationError,
        DeclarationError,
        InputValidationError,
        OutputValidationError,
        ProcedureLoadError,
        ProcedureRuntimeError,
        ProcedureSyntaxError,
        SandboxLimitError,
        TideError,
    )
    from runtime.events import (
        AgentStreamChunkEvent,
        AgentTurnEvent,
        CostEvent,
        ErrorInfo,
        Event,
        HumanField,
        HumanRequestEvent,
        HumanResponseEvent,
        LogEvent,
        OutputValidationEvent,
        RunCancelledEvent,
        RunCompletedEvent,
        RunFailedEvent,
        RunStartedEvent,
        RunTotals,
        SystemAlertEvent,
        ToolCallEvent,
        event_json_schema,
        parse_event,
    )
    from runtime.handlers import JsonlHandler, LogHandler, MemoryHandler
    from runtime.human import HumanResponder
    from runtime.human_fields import InvalidAnswer
    from runtime.inspect import ProcedureInfo, inspect_procedure
    from runtime.run import Run, RunResult
    from runtime.source import ProcedureSource
    from runtime.streaming import RunStream

__version__ = "0.1.0"


def _public_names() -> dict[str, str]:
    """Each public name and its module, read from the ``TYPE_CHECKING`` imports above: every
    name is written once, there, where type checkers see it too."""
    tree = ast.parse(Path(__file__).read_text("utf-8"))
    homes: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    for alias in statement.names:
                        homes[alias.asname or alias.name] = statement.module
    return homes


_HOMES = _public_names()


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = sorted([*_HOMES, "__version__"])
