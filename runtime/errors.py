"""Errors a user can cause and fix. Each carries a kind, a message, where it happened and a hint.

Anything that is a ``TideError`` is reported without a Python traceback.
"""

from __future__ import annotations

from runtime.events import ErrorInfo, ValidationIssue

# What to do about a top level that ran out of time (it is read before the run starts).
TOP_LEVEL_HINT = (
    "keep the top level to declarations, and do the work inside "
    "Procedure { function(input) ... end }"
)


class TideError(Exception):
    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        hint: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.hint = hint
        # What the component that failed said (a provider's error, a traceback), for --debug.
        self.detail = detail

    def locate(self, file: str | None, line: int | None) -> None:
        """Record where the error happened, unless it already knows."""
        if self.file is None and file is not None:
            self.file, self.line = file, line

    def info(self) -> ErrorInfo:
        found = {key: getattr(self, key) for key in ("file", "line", "hint", "detail")}
        return ErrorInfo(kind=self.kind, message=self.message, **found)

    def __str__(self) -> str:
        where = self.info().location()
        return f"{where}: {self.message}" if where else self.message


class ProcedureLoadError(TideError):
    """The procedure's source could not be read (missing, a directory, binary, empty)."""

    kind = "load"


class ProcedureSyntaxError(TideError):
    kind = "syntax"


class DeclarationError(TideError):
    """A declaration (Agent, Tool, Procedure, field…) is malformed."""

    kind = "declaration"


class InputValidationError(TideError):
    kind = "input"

    def __init__(self, message: str, issues: list[ValidationIssue], **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.issues = issues


class OutputValidationError(TideError):
    kind = "output_validation"

    def __init__(
        self, message: str, issues: list[ValidationIssue], raw: object = None, **kwargs: object
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.issues = issues
        self.raw = raw


class ProcedureRuntimeError(TideError):
    """An error raised by the procedure's Lua code."""

    kind = "runtime"


class SandboxLimitError(TideError):
    """The sandbox stopped the procedure: time limit, memory limit, or a guarded operation."""

    def __init__(self, kind: str, message: str, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.kind = kind


class AgentError(TideError):
    """An agent's turn failed (the model, a timeout, the tool loop)."""

    kind = "agent"

    def __init__(
        self,
        message: str,
        *,
        kind: str = "agent",
        partial_text: str = "",
        **kwargs: object,
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.kind = kind
        self.partial_text = partial_text


class InternalError(TideError):
    """A fault in Tide or in a component it calls, not in the procedure: reported like any other
    failure so that a run always ends with a terminal event."""

    kind = "internal"


class ConfigurationError(TideError):
    """The run cannot start as configured (missing credentials, unknown model…)."""

    kind = "configuration"
