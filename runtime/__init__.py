"""Tide's runtime: run AI-agent workflows written in Lua.

The public surface: ``run_procedure`` / ``run_procedure_sync`` / ``Runtime`` to run procedures,
``inspect_procedure`` to read one, log handlers, and the event types.
"""

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

__version__ = "0.1.0"

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
