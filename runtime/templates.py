"""``{input.x}`` and ``{state.x}`` (also ``{State.x}``) in prompts, filled in at each call. Unknown markers stay as
they are, so prompts may contain other braces (JSON examples)."""

from __future__ import annotations

import json
import re
from typing import Any

_MARKER = re.compile(r"\{(input|state|State|params)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\}")
_MISSING = object()


def _lookup(values: Any, path: list[str]) -> Any:
    for part in path:
        if isinstance(values, dict) and part in values:
            values = values[part]
        else:
            return _MISSING
    return values


def render(
    template: str,
    *,
    inputs: dict[str, Any],
    state: dict[str, Any],
    context: dict[str, Any] | None = None,
) -> str:
    if "{" not in template:
        return template

    def replace(match: re.Match[str]) -> str:
        namespace, path = match[1], match[2][1:].split(".")
        sources = [state] if namespace in ("state", "State") else [context or {}, inputs]
        for source in sources:
            value = _lookup(source, path)
            if value is not _MISSING and value is not None:
                return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return match[0]

    return _MARKER.sub(replace, template)
