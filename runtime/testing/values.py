"""Values written in steps, and how they compare with what a run produced.

A value is a quoted string, a number, ``true``/``false`` (any case), ``nil``/``null``/``None``,
JSON, or a Python literal (``{'a': 1}``); anything else is taken as plain text, as Tactus does.
Booleans compare as booleans, numbers numerically, everything else as text.
"""

from __future__ import annotations

import ast
import json
import math
import re
from typing import Any

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_NIL = frozenset({"nil", "null", "none"})


def parse_value(raw: str) -> Any:
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return unquote(text)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in _NIL:
        return None
    if _NUMBER.match(text):
        number = float(text)
        return int(number) if number.is_integer() and re.fullmatch(r"[+-]?\d+", text) else number
    if text[:1] in "{[":
        structured = parse_structured(text)
        if structured is not _UNPARSED:
            return structured
    return text


_UNPARSED: Any = object()


def parse_list_or_value(raw: str) -> Any:
    """A value, where ``[a, b, 3]`` that is not JSON is a list of its comma-separated items
    (each a value), as Tactus reads list inputs."""
    value = parse_value(raw)
    text = raw.strip()
    if isinstance(value, str) and text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [parse_value(item) for item in inner.split(",")] if inner else []
    return value


def parse_structured(text: str) -> Any:
    """JSON, else a Python literal; ``_UNPARSED`` when it is neither."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return _UNPARSED


def parse_json_argument(text: str) -> Any:
    """A JSON (or Python-literal) argument, possibly given as a quoted string."""
    raw = text.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        raw = unquote(raw)
    value = parse_structured(raw)
    if value is _UNPARSED:
        raise ValueError(f"not valid JSON: {raw}")
    return value


def unquote(text: str) -> str:
    inner = text[1:-1]
    if text[0] == '"':
        try:
            decoded = json.loads(text)
            if isinstance(decoded, str):
                return decoded
        except json.JSONDecodeError:
            pass
    return inner.replace("\\" + text[0], text[0])


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value)
    return None


def values_equal(actual: Any, expected: Any) -> bool:
    if expected is None:
        return actual is None
    if isinstance(expected, bool):
        if isinstance(actual, bool):
            return actual == expected
        return isinstance(actual, str) and actual.strip().lower() == str(expected).lower()
    if isinstance(expected, (int, float)):
        number = as_number(actual)
        return number is not None and math.isclose(number, float(expected), abs_tol=1e-9)
    if isinstance(expected, (dict, list)):
        if isinstance(actual, str):
            decoded = parse_structured(actual.strip())
            actual = actual if decoded is _UNPARSED else decoded
        return bool(actual == expected)
    if isinstance(actual, str):
        return actual == expected
    expected_number = as_number(expected)
    actual_number = as_number(actual)
    if expected_number is not None and actual_number is not None:
        return math.isclose(actual_number, expected_number, abs_tol=1e-9)
    return display(actual) == str(expected)


def contains(container: Any, item: Any) -> bool:
    """Text contains text, a list holds an equal item, a table has the key or an equal value."""
    if isinstance(container, str):
        return display(item) in container
    if isinstance(container, list):
        return any(values_equal(element, item) for element in container)
    if isinstance(container, dict):
        if isinstance(item, str) and item in container:
            return True
        return any(values_equal(v, item) for v in container.values())
    return False


def display(value: Any) -> str:
    """A value as a step would write it."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


class Described(str):
    """Words about a value ("at least 2 calls") rather than a value: shown without quotes."""


def show(value: Any) -> str:
    """A value for a failure message: strings quoted, so that empty ones and spaces show."""
    if isinstance(value, Described):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return display(value)


def is_complete(value: Any) -> bool:
    """Present and not empty (Tactus's "should be complete")."""
    if value is None:
        return False
    if isinstance(value, (str, list, dict)):
        return bool(value.strip() if isinstance(value, str) else value)
    return True


def lookup(value: Any, path: str) -> tuple[bool, Any]:
    """``a.b.1.c`` inside nested tables (list indexes from 1, as in Lua)."""
    current = value
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and 0 < int(part) <= len(current):
            current = current[int(part) - 1]
        else:
            return False, None
    return True, current
