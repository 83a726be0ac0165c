"""``MessageHistory``: read and edit an agent's conversation between its turns.

It acts on one agent's conversation, the same list the agent's next turn sends to its model
(after its system prompt): inside a tool an agent called, that agent; otherwise the agent
called most recently; before any agent has been called, the first agent declared.
Messages are ``{role, content}`` tables (assistant messages that called tools also carry
``tool_calls``, tool results ``tool_call_id``).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from runtime.errors import DeclarationError

if TYPE_CHECKING:
    from runtime.library._host import LibraryHost

ROLES = frozenset({"system", "user", "assistant", "tool"})
KEEP_MODES = ("system_prefix", "system_all", "none")


def conversation(host: LibraryHost) -> list[dict[str, Any]]:
    """The conversation ``MessageHistory`` acts on (see above), the run's own list."""
    agent = host.current_agent
    if agent is None:
        agent = next(iter(host.declarations.agents.values()), None)
    if agent is None:
        raise DeclarationError("MessageHistory needs an agent: this procedure declares none")
    read = getattr(host.effects, "conversation", None)
    return [] if read is None else read(agent)


def call(host: LibraryHost, function: str, args: list[Any]) -> Any:
    messages = conversation(host)
    first = args[0] if args else None
    if function == "get":
        return _copy(messages)
    if function == "append":
        messages.append(_message("MessageHistory.append", first))
        return None
    if function == "inject_system":
        if not isinstance(first, str):
            raise DeclarationError("MessageHistory.inject_system expects the text of the message")
        messages.append({"role": "system", "content": first})
        return None
    if function == "clear":
        messages.clear()
        return None
    if function == "replace":
        if isinstance(first, dict) and not first:
            first = []
        if not isinstance(first, list):
            raise DeclarationError("MessageHistory.replace expects a list of messages")
        messages[:] = [_message("MessageHistory.replace", m) for m in first]
        return None
    if function == "reset":
        messages[:] = _kept(messages, _keep_mode(first))
        return None
    if function in ("head", "tail", "rewind", "keep_head", "keep_tail"):
        count = _count(f"MessageHistory.{function}", first)
        if function == "head":
            return _copy(messages[:count])
        if function == "tail":
            return _copy(messages[-count:] if count else [])
        if function == "keep_head":
            del messages[count:]
        elif function == "keep_tail":
            messages[:] = messages[-count:] if count else []
        elif count:
            del messages[-count:]
        return None
    # slice{start = 1, stop = n}: 1-based and inclusive, like string.sub.
    options = first if isinstance(first, dict) else {}
    start = options.get("start", 1)
    stop = options.get("stop")
    if not isinstance(start, (int, float)) or (
        stop is not None and not isinstance(stop, (int, float))
    ):
        raise DeclarationError("MessageHistory.slice expects {start = N, stop = M}")
    return _copy(messages[max(int(start) - 1, 0) : None if stop is None else int(stop)])


def _copy(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for message in messages:
        item = copy.deepcopy(message)
        if item.get("content") is None:
            item["content"] = ""
        out.append(item)
    return out


def _message(what: str, value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"role": "user", "content": value}
    if not isinstance(value, dict):
        raise DeclarationError(f'{what} expects a message: {{role = "user", content = "..."}}')
    role = str(value.get("role", "user"))
    if role not in ROLES:
        raise DeclarationError(
            f"{what}: unknown role '{role}'", hint="use system, user, assistant or tool"
        )
    message = {k: v for k, v in value.items() if k not in ("id", "created_at")}
    message["role"] = role
    content = value.get("content", "")
    message["content"] = content if isinstance(content, str) else str(content)
    return message


def _keep_mode(options: Any) -> str:
    mode = options.get("keep", "system_prefix") if isinstance(options, dict) else options
    if mode is None:
        mode = "system_prefix"
    if mode not in KEEP_MODES:
        raise DeclarationError(
            f"MessageHistory.reset: unknown keep mode '{mode}'",
            hint="use one of: " + ", ".join(KEEP_MODES),
        )
    return str(mode)


def _kept(messages: list[dict[str, Any]], mode: str) -> list[dict[str, Any]]:
    if mode == "none":
        return []
    if mode == "system_all":
        return [m for m in messages if m.get("role") == "system"]
    kept = []
    for message in messages:
        if message.get("role") != "system":
            break
        kept.append(message)
    return kept


def _count(what: str, value: Any) -> int:
    if value is None:
        return 0
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise DeclarationError(f"{what} expects a number of messages")
    return max(int(value), 0)
