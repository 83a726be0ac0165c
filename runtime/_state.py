"""``State``: a run's key-value store, readable by specifications after the run."""

from __future__ import annotations

import copy
from typing import Any

from runtime.errors import DeclarationError


def initial_state(schema: Any) -> dict[str, Any]:
    """Defaults from a procedure's ``state = { k = field.x{default = ...} }``."""
    if not isinstance(schema, dict):
        return {}
    values = {}
    for key, spec in schema.items():
        if isinstance(spec, dict) and ("type" in spec or "__tide_kind" in spec):
            if spec.get("default") is not None:
                values[str(key)] = spec["default"]
        else:
            values[str(key)] = spec
    return values


class StateStore:
    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(initial or {})

    def call(self, op: str, args: list[Any]) -> Any:
        if op == "all":
            return copy.deepcopy(self.values)
        if op == "clear":
            self.values.clear()
            return None
        if not args or not isinstance(args[0], str):
            raise DeclarationError(f"State.{op} expects a key (a string) first")
        key = args[0]
        if op == "get":
            default = args[1] if len(args) > 1 else None
            return copy.deepcopy(self.values.get(key, default))
        if op == "set":
            value = args[1] if len(args) > 1 else None
            if value is None:
                self.values.pop(key, None)
            else:
                self.values[key] = value
            return None
        if op == "increment":
            step = args[1] if len(args) > 1 else 1
            current = self.values.get(key, 0)
            if not isinstance(current, (int, float)) or not isinstance(step, (int, float)):
                raise DeclarationError(f"State.increment('{key}') needs numbers")
            self.values[key] = current + step
            return self.values[key]
        if op == "append":
            current = self.values.setdefault(key, [])
            if not isinstance(current, list):
                raise DeclarationError(
                    f"State.append('{key}') needs a list, found {type(current).__name__}"
                )
            current.append(args[1] if len(args) > 1 else None)
            return len(current)
        raise DeclarationError(f"State.{op} does not exist")
