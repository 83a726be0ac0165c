"""Procedures and models the durable-run tests share."""

from __future__ import annotations

import json

from runtime.models.base import ModelItem, ModelRequest, TextDelta, ToolCallRequest

# Several agent calls (one with two tool rounds), a tool called by an agent and one called from
# Lua, a sub-procedure with its own agent call, State and logs between them.
WORKFLOW = """
planner = Agent { model = "m/planner", system_prompt = "You plan.", tools = { "add" } }
writer = Agent { model = "m/writer", system_prompt = "You write." }

add = Tool {
  description = "Add two numbers",
  input = { a = field.number{ required = true }, b = field.number{ required = true } },
  function(args)
    State.increment("adds")
    return { sum = args.a + args.b }
  end
}

summarize = Procedure "summarize" {
  input = { text = field.string{ required = true } },
  output = { summary = field.string{ required = true } },
  function(input)
    local r = writer("Summarize: " .. input.text)
    return { summary = r.output }
  end
}

Procedure {
  input = { topic = field.string{ default = "tides" } },
  output = { plan = field.string{}, total = field.number{}, summary = field.string{},
             final = field.string{}, adds = field.number{} },
  function(input)
    Log.info("starting", { topic = input.topic })
    local plan = planner("Plan a note about " .. input.topic)
    local direct = add({ a = 40, b = 2 })
    Log.info("direct sum", { sum = direct.sum })
    local s = summarize({ text = plan.output })
    local final = writer("Finish with " .. tostring(direct.sum) .. " and " .. s.summary)
    return { plan = plan.output, total = direct.sum, summary = s.summary,
             final = final.output, adds = State.get("adds") }
  end
}
"""


def last_user(request: ModelRequest) -> str:
    return next((str(m["content"]) for m in reversed(request.messages) if m["role"] == "user"), "")


def workflow_answer(request: ModelRequest) -> str | list[ModelItem]:
    """Deterministic answers: the planner calls ``add`` once, then answers."""
    if request.agent == "planner":
        if request.round == 1:
            return [TextDelta("Let me add. "), ToolCallRequest("call_1", "add", {"a": 1, "b": 2})]
        result = json.loads(str(request.messages[-1]["content"]))
        return f"The plan has {result['sum']} parts about tides."
    return "Written: " + last_user(request)[:40]
