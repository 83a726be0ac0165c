"""``Human.multiple{...}`` / ``Human.inputs{...}``: several fields in one request, one answer.

Each item is ``{id (or name), label, message, type = "approval" | "input" | "select" |
"review", options, default, required = true, mode}``. The request is one ``human_request`` of
kind ``multiple`` whose ``fields`` are the items, and its answer is one object keyed by the
fields' ids, checked here wherever it comes from (``tide runs answer``, HTTP, Python): a
missing required field, a value of the wrong shape or an unknown key is refused, naming the
fields. Answers are checked against the request the store recorded, so this module needs
nothing but the errors.
"""

from __future__ import annotations

import json
from typing import Any

from runtime.errors import DeclarationError, TideError

# The types an item may have, and the kind of question each asks.
KINDS = {
    "approval": "approve",
    "approve": "approve",
    "input": "input",
    "text": "input",
    "select": "select",
    "review": "review",
}
STAND_INS: dict[str, Any] = {
    "approve": True,
    "input": "test input",
    "review": {"decision": "Approve"},
}
REVIEW_DECISIONS = ("Approve", "Edit", "Reject")


class InvalidAnswer(TideError):
    """An answer that does not fit the request: fields missing, of the wrong shape, unknown."""

    kind = "invalid_answer"

    def __init__(self, message: str, problems: dict[str, str], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.problems = problems


def option_value(option: Any) -> Any:
    """What choosing an option answers: the option itself, or a table's ``value`` (else its
    ``label``)."""
    if isinstance(option, dict):
        return option.get("value", option.get("label"))
    return option


def as_list(value: Any) -> list[Any]:
    """A Lua array as a list (one that arrived as a table keyed 1, 2, …)."""
    if isinstance(value, dict):
        return [value[key] for key in sorted(value, key=str)]
    return list(value) if isinstance(value, list) else []


def parse_fields(what: str, value: Any) -> list[dict[str, Any]]:
    """The request's fields, normalized: ``id``, ``label``, ``message``, ``type`` (approve,
    input, select, review), ``options``, ``default``, ``required``, ``mode``."""
    if isinstance(value, dict) and "items" in value:
        value = value["items"]
    if not isinstance(value, list) or not value:
        raise DeclarationError(
            f'{what} expects a list of items: {{ {{id = "name", type = "input", message = "..."}}, ... }}'
        )
    fields: list[dict[str, Any]] = []
    for index, item in enumerate(value, start=1):
        ident = item.get("id", item.get("name")) if isinstance(item, dict) else None
        if not isinstance(ident, str) or not ident:
            raise DeclarationError(f"{what}: item {index} needs an id (a string)")
        if any(f["id"] == ident for f in fields):
            raise DeclarationError(f"{what}: two items have the id '{ident}'")
        kind = str(item.get("type", "input"))
        if kind not in KINDS:
            raise DeclarationError(
                f"{what}: item '{ident}' has unknown type '{kind}'",
                hint="use approval, input, select or review",
            )
        metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
        label = str(item.get("label") or ident)
        fields.append(
            {
                "id": ident,
                "label": label,
                "message": str(item.get("message") or label),
                "type": KINDS[kind],
                "options": as_list(item.get("options")),
                "default": item.get("default"),
                "required": item.get("required", True) is not False,
                "mode": "multiple"
                if item.get("mode", metadata.get("mode")) == "multiple"
                else "single",
            }
        )
        if fields[-1]["type"] == "select" and not fields[-1]["options"]:
            raise DeclarationError(f"{what}: item '{ident}' is a select with no options")
    return fields


def request_message(fields: list[dict[str, Any]], given: Any) -> str:
    if isinstance(given, str) and given:
        return given
    count = f"{len(fields)} question" + ("" if len(fields) == 1 else "s")
    return f"{count}: " + ", ".join(f["label"] for f in fields)


def field_defaults(fields: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The answer a timed-out request takes: the fields' defaults (None when none has one)."""
    defaults = {f["id"]: f["default"] for f in fields if f["default"] is not None}
    return defaults or None


def stand_in(field: dict[str, Any]) -> Any:
    """A field's answer under ``--mock``: its default, else the usual stand-in (a select's
    first option)."""
    if field["default"] is not None:
        return field["default"]
    if field["type"] == "select":
        first = option_value(field["options"][0]) if field["options"] else None
        return [first] if field["mode"] == "multiple" else first
    return STAND_INS[field["type"]]


def mock_answer(fields: list[dict[str, Any]], answers: dict[str, Any]) -> dict[str, Any]:
    """Every field answered: by ``Mocks { Human = { <id> = value } }``, else its stand-in."""
    return {f["id"]: answers[f["id"]] if f["id"] in answers else stand_in(f) for f in fields}


def check_answer(request: dict[str, Any], value: Any) -> Any:
    """The answer to a stored request, checked: for a ``multiple`` request, an object keyed by
    its fields, with omitted fields given their defaults. Raises ``InvalidAnswer``."""
    if request.get("kind") != "multiple":
        return value
    fields: list[dict[str, Any]] = list(request.get("fields") or [])
    example = json.dumps(answer_example(fields), ensure_ascii=False)
    if not isinstance(value, dict):
        ids = ", ".join(f["id"] for f in fields)
        raise InvalidAnswer(
            f"request '{request.get('request_id')}' asks {len(fields)} fields ({ids}): answer "
            "with one object keyed by field",
            {"": "not an object"},
            hint=f"for example {example}",
        )
    problems: dict[str, str] = {}
    answer: dict[str, Any] = {}
    for field in fields:
        ident = field["id"]
        given = value.get(ident)
        if given is None or (field["type"] == "input" and given == "" and field["required"]):
            if field.get("default") is not None:
                answer[ident] = field["default"]
            elif field.get("required", True):
                problems[ident] = "is required"
            continue
        problem = _problem(field, given)
        if problem:
            problems[ident] = problem
        else:
            answer[ident] = given
    known = {f["id"] for f in fields}
    for key in value:
        if key not in known:
            problems[str(key)] = "is not a field of this request"
    if problems:
        listed = "; ".join(f"'{k}' {v}" for k, v in problems.items())
        raise InvalidAnswer(
            f"the answer to request '{request.get('request_id')}' is not valid: {listed}",
            problems,
            hint=f"for example {example}",
        )
    return answer


def _problem(field: dict[str, Any], value: Any) -> str | None:
    kind = field["type"]
    if kind == "approve":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "input":
        return None if isinstance(value, str) else "must be text"
    if kind == "review":
        decision = value.get("decision") if isinstance(value, dict) else None
        if isinstance(decision, str) and decision:
            return None
        return 'must be an object with a decision: {"decision": "Approve"} (or Edit, Reject)'
    choices = [option_value(o) for o in field.get("options") or []]
    listed = ", ".join(json.dumps(c, ensure_ascii=False) for c in choices)
    if field.get("mode") == "multiple":
        if isinstance(value, list) and all(v in choices for v in value):
            return None
        return f"must be a list of options from: {listed}"
    return None if value in choices else f"must be one of: {listed}"


def answer_example(fields: list[dict[str, Any]]) -> dict[str, Any]:
    """An answer of the right shape, to show how to answer."""
    return {f["id"]: _example(f) for f in fields}


def _example(field: dict[str, Any]) -> Any:
    if field["type"] == "select":
        return stand_in({**field, "default": None})
    return {"approve": True, "input": "text", "review": {"decision": "Approve"}}[field["type"]]
