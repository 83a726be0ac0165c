"""``Human.multiple{...}`` / ``Human.inputs{...}``: several questions in one request.

Each item is ``{id, label, type = "approval" | "input" | "select" | "review", message,
options, required, default}``; the answer is a table keyed by the items' ids. A responder may
answer the whole request at once (``Mocks { Human = { multiple = {...} } }``); otherwise each item
is asked as the single question of its type, one after another, each a request of its own
(under ``--mock``: its default, or the usual stand-in answer; ``Mocks { Human = { <id> = value
} }`` answers one item).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runtime.errors import DeclarationError

AskOne = Callable[[str, list[Any]], Any]

KINDS = {
    "approval": "approve",
    "approve": "approve",
    "input": "input",
    "text": "input",
    "select": "select",
    "review": "review",
}


def items_of(what: str, value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict) and "items" in value:
        value = value["items"]
    if not isinstance(value, list) or not value:
        raise DeclarationError(
            f'{what} expects a list of items: {{ {{id = "name", type = "input", message = "..."}}, ... }}'
        )
    items: list[dict[str, Any]] = []
    for index, item in enumerate(value, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise DeclarationError(f"{what}: item {index} needs an id (a string)")
        kind = str(item.get("type", "input"))
        if kind not in KINDS:
            raise DeclarationError(
                f"{what}: item '{item['id']}' has unknown type '{kind}'",
                hint="use approval, input, select or review",
            )
        items.append(item)
    return items


def answer_each(
    items: list[dict[str, Any]],
    answers: dict[str, Any],
    mock: bool,
    ask: AskOne,
) -> dict[str, Any]:
    """Answers keyed by item id, each from the mocks, the item's default or ``ask``."""
    out: dict[str, Any] = {}
    for item in items:
        ident = item["id"]
        kind = KINDS[str(item.get("type", "input"))]
        if ident in answers:
            out[ident] = answers[ident]
        elif mock and item.get("default") is not None:
            out[ident] = item["default"]
        elif mock and kind == "select":
            options = item.get("options") or []
            first = options[0] if isinstance(options, list) and options else None
            out[ident] = (
                first.get("value", first.get("label")) if isinstance(first, dict) else first
            )
        else:
            out[ident] = ask(kind, [item])
    return out
