"""Tide's runtime: run AI-agent workflows written in Lua.

The public surface: ``run_procedure`` / ``run_procedure_sync`` / ``Runtime`` to run procedures,
``inspect_procedure`` to read one, log handlers, and the event types.

Names are imported on first use, so that importing a part of the runtime (the ``tide``
command, a worker's client) does not pay for the whole of it.
"""

from __future__ import annotations

import importlib
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
        LogEvent,
        OutputValidationEvent,
        RunCancelledEvent,
        RunCompletedEvent,
        RunFailedEvent,
        RunStartedEvent,
        RunTotals,
        ToolCallEvent,
        event_json_schema,
        parse_event,
    )
    from runtime.handlers import JsonlHandler, LogHandler, MemoryHandler
    from runtime.human import HumanResponder
    from runtime.inspect import ProcedureInfo, inspect_procedure
    from runtime.run import Run, RunResult
    from runtime.source import ProcedureSource
    from runtime.streaming import RunStream

__version__ = "0.1.0"

_HOMES = {
    "AgentError": "runtime.errors",
    "AgentStreamChunkEvent": "runtime.events",
    "AgentTurnEvent": "runtime.events",
    "ConfigurationError": "runtime.errors",
    "CostEvent": "runtime.events",
    "DeclarationError": "runtime.errors",
    "ErrorInfo": "runtime.events",
    "Event": "runtime.events",
    "HumanResponder": "runtime.human",
    "InputValidationError": "runtime.errors",
    "JsonlHandler": "runtime.handlers",
    "LogEvent": "runtime.events",
    "LogHandler": "runtime.handlers",
    "MemoryHandler": "runtime.handlers",
    "OutputValidationError": "runtime.errors",
    "OutputValidationEvent": "runtime.events",
    "ProcedureInfo": "runtime.inspect",
    "ProcedureLoadError": "runtime.errors",
    "ProcedureRuntimeError": "runtime.errors",
    "ProcedureSource": "runtime.source",
    "ProcedureSyntaxError": "runtime.errors",
    "Run": "runtime.run",
    "RunCancelledEvent": "runtime.events",
    "RunCompletedEvent": "runtime.events",
    "RunFailedEvent": "runtime.events",
    "RunResult": "runtime.run",
    "RunStartedEvent": "runtime.events",
    "RunStream": "runtime.streaming",
    "RunTotals": "runtime.events",
    "Runtime": "runtime.api",
    "RuntimeConfig": "runtime.config",
    "SandboxLimitError": "runtime.errors",
    "TideError": "runtime.errors",
    "ToolCallEvent": "runtime.events",
    "event_json_schema": "runtime.events",
    "inspect_procedure": "runtime.inspect",
    "parse_event": "runtime.events",
    "run_procedure": "runtime.api",
    "run_procedure_sync": "runtime.api",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AgentError",
    "AgentStreamChunkEvent",
    "AgentTurnEvent",
    "ConfigurationError",
    "CostEvent",
    "DeclarationError",
    "ErrorInfo",
    "Event",
    "HumanResponder",
    "InputValidationError",
    "JsonlHandler",
    "LogEvent",
    "LogHandler",
    "MemoryHandler",
    "OutputValidationError",
    "OutputValidationEvent",
    "ProcedureInfo",
    "ProcedureLoadError",
    "ProcedureRuntimeError",
    "ProcedureSource",
    "ProcedureSyntaxError",
    "Run",
    "RunCancelledEvent",
    "RunCompletedEvent",
    "RunFailedEvent",
    "RunResult",
    "RunStartedEvent",
    "RunStream",
    "RunTotals",
    "Runtime",
    "RuntimeConfig",
    "SandboxLimitError",
    "TideError",
    "ToolCallEvent",
    "__version__",
    "event_json_schema",
    "inspect_procedure",
    "parse_event",
    "run_procedure",
    "run_procedure_sync",
]
