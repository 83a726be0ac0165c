"""How tools answer in mock mode: ``{ returns = ... }``, ``{ temporal = {r1, r2} }`` (by call
number, the last repeating), ``{ conditional = {{ when = {arg = value}, returns = ... }} }``
(the first whose ``when`` matches the arguments: equal values, or ``"contains:x"``,
``"startswith:x"``, ``"endswith:x"`` for text) or ``{ error = "message" }`` (the call fails).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.errors import ProcedureRuntimeError

# What ``ToolMock.result`` returns when the mock has no answer for a call: the real tool runs.
NO_MOCK: Any = object()
_TOOL_MOCK_KEYS = ("returns", "temporal", "conditional", "error")


@dataclass(frozen=True)
class ToolMock:
    """How one tool answers in mock mode."""

    entry: dict[str, Any]

    @classmethod
    def parse(cls, raw: Any) -> ToolMock | None:
        if isinstance(raw, dict) and any(k in raw for k in _TOOL_MOCK_KEYS):
            return cls(raw)
        return None

    def result(self, args: dict[str, Any], call: int) -> Any:
        """The mocked result of call number ``call`` (from 1), or ``NO_MOCK``.

        Raises ``ProcedureRuntimeError`` for a mocked failure, as a failing tool function would."""
        conditional = self.entry.get("conditional")
        for case in conditional if isinstance(conditional, list) else []:
            if isinstance(case, dict) and _matches(case.get("when"), args):
                return _answer(case)
        temporal = self.entry.get("temporal")
        if isinstance(temporal, list) and temporal and "error" not in self.entry:
            return temporal[min(call, len(temporal)) - 1]
        return _answer(self.entry)


def _matches(when: Any, args: dict[str, Any]) -> bool:
    if not isinstance(when, dict):
        return when is None
    return all(k in args and _holds(args[k], v) for k, v in when.items())


# ``when = {text = "contains:refund"}``: operators Tactus mocks accept in a condition's value.
_OPERATORS = {
    "contains:": lambda actual, wanted: wanted in actual,
    "startswith:": lambda actual, wanted: actual.startswith(wanted),
    "endswith:": lambda actual, wanted: actual.endswith(wanted),
}


def _holds(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, str):
        for prefix, test in _OPERATORS.items():
            if wanted.startswith(prefix):
                return bool(test(str(actual), wanted[len(prefix) :].strip()))
    return bool(actual == wanted)


def _answer(case: dict[str, Any]) -> Any:
    if case.get("error") is not None:
        raise ProcedureRuntimeError(str(case["error"]))
    return case.get("returns", NO_MOCK)
