"""Calling a sub-procedure (``helper({ ... })``): its inputs checked, its call journaled in a
durable run, its output checked against what it declares."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from runtime.declarations import ProcedureDecl
from runtime.errors import DeclarationError, OutputValidationError
from runtime.fields import check_output, coerce_inputs
from runtime.journal import journaled


def checked_call(
    effects: object,
    procedure: ProcedureDecl,
    arguments: Any,
    call: Callable[[ProcedureDecl, dict[str, Any]], Any],
) -> Any:
    """``call(procedure, inputs)`` (on the Lua thread) with ``arguments`` checked; its output."""
    if not isinstance(arguments, dict):
        raise DeclarationError(
            f"procedure '{procedure.name}' takes a table of inputs",
            hint=f"{procedure.name}({{ ... }})",
        )
    inputs = coerce_inputs(procedure.input, arguments)
    name = procedure.name or f"procedure{procedure.id}"
    output = journaled(effects, "procedure", name, inputs, partial(call, procedure, inputs))
    if procedure.output:
        checked, issues = check_output(procedure.output, output)
        if issues:
            detail = "; ".join(f"{i.path}: {i.message}" for i in issues)
            raise OutputValidationError(
                f"procedure '{procedure.name}' returned output that does not match its declaration: {detail}",
                issues,
                raw=output,
            )
        output = checked
    return output
