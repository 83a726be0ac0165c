"""Tide's runtime: run AI-agent workflows written in Lua.

The public surface: ``run_procedure`` / ``run_procedure_sync`` / ``Runtime`` to run procedures,
``inspect_procedure`` to read one, log handlers, and the event types.

Names are imported on first use, so that importing a part of the runtime (the ``tide``
command, a worker's client) does not pay for the whole of it.
"""

# The imports under TYPE_CHECKING are the public names (see runtime.lazy), not unused ones.
# ruff: noqa: F401

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.lazy import lazy_exports

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


__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__, globals(), "__version__")
