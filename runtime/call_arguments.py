"""What the arguments of an agent call mean: a message, options, or both."""

from __future__ import annotations

from typing import Any


def agent_arguments(args: list[Any]) -> tuple[str | None, dict[str, Any]]:
    """``agent()``, ``agent("text")`` and ``agent({message = ..., ...})``."""
    if not args or args[0] is None:
        return None, {}
    first = args[0]
    if isinstance(first, str):
        return first, {}
    if isinstance(first, dict):
        options = dict(first)
        message = options.pop("message", None)
        return (str(message) if message is not None else None), options
    if isinstance(first, list) and not first:
        return None, {}
    return str(first), {}
