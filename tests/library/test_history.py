"""MessageHistory on the agents' conversation, and agent handles' output and history."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.models.base import ModelRequest
from runtime.models.function import FunctionModel
from tests.helpers import run

pytestmark = pytest.mark.anyio

AGENTS = """
writer = Agent { model = "openai/gpt-4o-mini", system_prompt = "You write." }
editor = Agent { model = "openai/gpt-4o-mini", system_prompt = "You edit." }
Mocks { writer = { message = "a draft" }, editor = { message = "an edit" } }
"""


async def test_agent_handles_expose_output_and_history() -> None:
    text = (
        AGENTS
        + """
Procedure {
  function(input)
    local before = writer.output
    writer("Write.")
    local history = writer.get_history()
    writer.clear_history()
    return { before = before == nil, output = writer.output, n = #history,
             roles = { history[1].role, history[2].role }, after = #writer.get_history(),
             editor = editor.output == nil }
  end
}
"""
    )
    result, _ = await run(text)
    assert result.status == "completed", result.error
    assert result.output == {
        "before": True,
        "output": "a draft",
        "n": 2,
        "roles": ["user", "assistant"],
        "after": 0,
        "editor": True,
    }


async def test_message_history_edits_the_conversation_the_next_turn_sends() -> None:
    seen: list[list[dict[str, Any]]] = []

    def record(request: ModelRequest) -> str:
        seen.append([dict(m) for m in request.messages])
        return "ok"

    text = (
        AGENTS
        + """
Procedure {
  function(input)
    MessageHistory.inject_system("Be brief.")     -- before any call: the first agent declared
    MessageHistory.append({ role = "user", content = "Earlier question" })
    writer("First.")
    local all = MessageHistory.get()
    local out = { n = #all, head = MessageHistory.head(1)[1].content,
                  tail = MessageHistory.tail(1)[1].content,
                  slice = #MessageHistory.slice({ start = 2, stop = 3 }) }
    MessageHistory.rewind(2)
    out.rewound = #MessageHistory.get()
    MessageHistory.reset({ keep = "system_prefix" })
    out.reset = #MessageHistory.get()
    MessageHistory.replace({ { role = "assistant", content = "Replaced" } })
    writer("Second.")
    editor("Edit.")
    MessageHistory.clear()                          -- now the editor's
    out.editor = #editor.get_history()
    out.writer = #writer.get_history()
    return out
  end
}
"""
    )
    result, _ = await run(text, models={"openai/gpt-4o-mini": FunctionModel(record)})
    assert result.status == "completed", result.error
    assert result.output == {
        "n": 4,
        "head": "Be brief.",
        "tail": "ok",
        "slice": 2,
        "rewound": 2,
        "reset": 1,
        "editor": 0,
        "writer": 3,
    }
    first, second = seen[0], seen[1]
    assert [m["role"] for m in first] == ["system", "system", "user", "user"]
    assert first[1]["content"] == "Be brief." and first[2]["content"] == "Earlier question"
    assert [(m["role"], m["content"]) for m in second[1:]] == [
        ("assistant", "Replaced"),
        ("user", "Second."),
    ]


async def test_message_history_mistakes() -> None:
    for call, message in {
        "MessageHistory.append(3)": "expects a message",
        'MessageHistory.append({ role = "robot", content = "x" })': "unknown role 'robot'",
        'MessageHistory.reset({ keep = "some" })': "unknown keep mode 'some'",
    }.items():
        result, _ = await run(AGENTS + f"Procedure {{ function() {call}; return {{}} end }}")
        assert result.error is not None and message in result.error.message, call
    result, _ = await run("Procedure { function() MessageHistory.get(); return {} end }")
    assert result.error is not None and "this procedure declares none" in result.error.message
