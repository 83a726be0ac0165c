"""An agent's turn inside a custom step, after the run: its mock's reply, with no model and no
events. The reply is picked as in the run (``when_message`` first, else by turn), its tool calls
run the tools (or their mocks) and are recorded, and a declared output is read from it."""

from __future__ import annotations

import json
from typing import Any

from runtime.declarations import AgentDecl
from runtime.fields import placeholder_data
from runtime.library import toolsets
from runtime.models.mock import AgentMock, MockReply


def mocked_turn(host: Any, agent: AgentDecl, message: str | None, turn: int) -> dict[str, Any]:
    name = agent.name or f"agent{agent.id}"
    mock = AgentMock.parse(host.mock_for(name))
    if mock is not None and mock.replies:
        reply = mock.reply_for(turn, message)
    elif agent.config.output:
        reply = MockReply(data=placeholder_data(agent.config.output))
    else:
        reply = MockReply(message=f"Mocked response from {name}")
    offered = {t.name: t for t in toolsets.agent_tools(host, agent, None) if t.name}
    calls = []
    for tool_name, args in reply.tool_calls:
        tool = offered.get(tool_name) or host.declarations.tool_named(tool_name)
        if tool is None and tool_name == "done":
            tool = host.done_tool()
        result = host.invoke_tool(tool, args) if tool is not None else None
        calls.append({"tool": tool_name, "args": args, "result": result})
    text = reply.text()
    output: Any = text
    if agent.config.output:
        try:
            output = json.loads(text)
        except json.JSONDecodeError:
            output = text
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    return {
        "output": output,
        "response": text,
        "message": text,
        "usage": usage,
        "cost": 0.0,
        "turn": turn,
        "tool_calls": calls,
    }
