"""Procedures and models the durable-run tests share."""

from __future__ import annotations

import json

from runtime.models.base import ModelItem, ModelRequest, TextDelta, ToolCallRequest

# A tool (called by an agent and from Lua) and a sub-procedure with its own agent call.
_TOOL_AND_SUBPROCEDURE = """
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
    return { summary = writer("Summarize: " .. input.text).output }
  end
}
"""

# Several agent calls (one with two tool rounds), the tool and the sub-procedure, State and
# logs between them; its models are answered in-process (``workflow_answer``).
WORKFLOW = (
    """
planner = Agent { model = "m/planner", system_prompt = "You plan.", tools = { "add" } }
writer = Agent { model = "m/writer", system_prompt = "You write." }
"""
    + _TOOL_AND_SUBPROCEDURE
    + """
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
)

# The same effects with six calls to a scripted model server at URL (``SERVED_SCRIPT``), for
# tests that run real `tide` processes: the planner, three drafts, the sub-procedure's summary
# and a final text. Every prompt names the topic, which tells apart the calls of runs made at
# the same time.
SERVED_WORKFLOW = (
    """
planner = Agent { model = "openai/planner", api_base = "URL", system_prompt = "You plan.",
                  tools = { "add", "done" } }
writer = Agent { model = "openai/writer", api_base = "URL", system_prompt = "You write." }
"""
    + _TOOL_AND_SUBPROCEDURE
    + """
Procedure {
  input = { topic = field.string{ default = "tides" } },
  function(input)
    Log.info("starting")
    local plan = planner("Plan a note about " .. input.topic)
    local direct = add({ a = 40, b = 2 })
    local drafts = {}
    for part = 1, 3 do
      drafts[part] = writer("Draft part " .. part .. " about " .. input.topic).output
    end
    local s = summarize({ text = input.topic .. ": " .. table.concat(drafts, " ") })
    local final = writer("Finish " .. input.topic .. " with " .. direct.sum .. ": " .. s.summary)
    return { plan = plan.output, total = direct.sum, drafts = drafts,
             summary = s.summary, final = final.output, adds = State.get("adds") }
  end
}
"""
)

# The planner calls `add` and `done` in one reply: its turn is one model call whatever happens.
SERVED_SCRIPT = {
    "models": {
        "planner": [
            {
                "match": "Plan",
                "repeat": True,
                "tool_calls": [
                    {"id": "call_add", "name": "add", "arguments": {"a": 1, "b": 2}},
                    {"id": "call_done", "name": "done", "arguments": {"reason": "planned"}},
                ],
            }
        ]
    }
}


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
