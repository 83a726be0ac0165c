"""``Json.encode`` and ``Json.decode`` for procedures: plain JSON, clear errors, no NaN."""

from __future__ import annotations

import json
from typing import Any

from runtime.errors import DeclarationError


def json_call(function: str, values: list[Any]) -> Any:
    if function == "encode":
        return json.dumps(values[0] if values else None, ensure_ascii=False, default=str)
    text = values[0] if values else ""
    if not isinstance(text, str):
        raise DeclarationError("Json.decode expects a string")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise DeclarationError(
            f"Json.decode: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise DeclarationError("Json.decode: the JSON is nested too deeply") from None
    except ValueError as exc:
        raise DeclarationError(f"Json.decode: {exc}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
