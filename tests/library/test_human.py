"""Human.multiple / Human.inputs (several fields in one request) and Human.notify."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.human import HumanResponder
from tests.helpers import of_type, run

pytestmark = pytest.mark.anyio

ASK = """
Procedure {
  function(input)
    Human.notify{ message = "starting", level = "warning" }
    local r = Human.multiple({
      { id = "target", label = "Target", type = "select", message = "Where?", options = {"staging", "prod"} },
      { id = "confirm", label = "Confirm", type = "approval", message = "Sure?" },
      { id = "notes", label = "Notes", type = "input", message = "Notes?", default = "none" },
    })
    local again = Human.inputs({ { id = "name", type = "input", message = "Name?" } })
    return { target = r.target, confirm = r.confirm, notes = r.notes, name = again.name }
  end
}
"""


async def test_multiple_under_mock_answers_every_item() -> None:
    result, events = await run(ASK)
    assert result.status == "completed", result.error
    assert result.output == {
        "target": "staging",
        "confirm": True,
        "notes": "none",
        "name": "test input",
    }
    (notice,) = [e for e in of_type(events, "log") if e.fields.get("human") == "notify"]
    assert (notice.level, notice.message, notice.source) == ("warn", "starting", "proc.tac:4")


async def test_multiple_is_one_request_asked_once_with_every_field() -> None:
    asked: list[tuple[str, str, list[str]]] = []

    class Person(HumanResponder):
        def ask(self, op: str, message: str, options: dict[str, Any]) -> Any:
            asked.append((op, message, [f["id"] for f in options["fields"]]))
            if len(options["fields"]) == 1:
                return "not an object"
            return {"target": "prod", "confirm": False, "notes": "given"}

    result, events = await run(ASK, mock=False, human=Person())
    assert result.output == {"target": "prod", "confirm": False, "notes": "given"}
    assert asked == [
        ("multiple", "3 questions: Target, Confirm, Notes", ["target", "confirm", "notes"]),
        ("multiple", "1 question: name", ["name"]),
    ]
    first, second = of_type(events, "human_request")
    assert first.kind == "multiple" and [f.type for f in first.fields] == [
        "select", "approve", "input",
    ]  # fmt: skip
    assert first.fields[0].options == ["staging", "prod"] and first.fields[2].default == "none"
    assert first.default == {"notes": "none"} and second.fields[0].label == "name"
    assert [e.value for e in of_type(events, "human_response")] == [
        {"target": "prod", "confirm": False, "notes": "given"},
        "not an object",
    ]
    whole = {"target": "x", "confirm": True, "notes": "n"}
    result, _ = await run(ASK, human=HumanResponder(mock=True, answers={"multiple": whole}))
    assert result.output is not None and result.output["target"] == "x"
    result, _ = await run(ASK, human=HumanResponder(mock=True, answers={"notes": "given"}))
    assert result.output is not None and result.output["notes"] == "given"


async def test_multiple_mistakes() -> None:
    for items, message in {
        "{}": "expects a list of items",
        '{ { type = "input" } }': "item 1 needs an id",
        '{ { id = "a", type = "color" } }': "unknown type 'color'",
        '{ { id = "a" }, { name = "a" } }': "two items have the id 'a'",
        '{ { id = "a", type = "select" } }': "a select with no options",
    }.items():
        result, _ = await run(f"Procedure {{ function() local r = Human.multiple({items}) end }}")
        assert result.error is not None and message in result.error.message
        assert result.error.line == 1
