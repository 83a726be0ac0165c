"""Tool as a namespace, tool handles' reset and last_call, Toolsets and agents' inline tools."""

from __future__ import annotations

import pytest

from runtime.validate import validate_source
from tests.helpers import of_type, run, source

pytestmark = pytest.mark.anyio

ADD = """
add = Tool {
  description = "Add two numbers",
  input = { a = field.number{required = true}, b = field.number{required = true} },
  function(args) return args.a + args.b end
}
"""


async def test_tool_namespace_reads_calls_by_name() -> None:
    text = (
        ADD
        + """
Procedure {
  function(input)
    local before = { Tool.called("add"), Tool.last_call("add"), Tool.call_count("add") }
    add({a = 1, b = 2})
    local handle = Tool("add")
    local direct = handle({a = 3, b = 4})
    return {
      before_called = before[1], before_count = before[3], before_last = before[2] == nil,
      called = Tool.called("add"), last_result = Tool.last_result("add"),
      last_call = Tool.last_call("add"), count = Tool.call_count("add"),
      direct = direct, same = Tool.get("add") == add, unknown = Tool.called("nope"),
    }
  end
}
"""
    )
    result, _ = await run(text)
    assert result.status == "completed", result.error
    out = result.output
    assert (out["before_called"], out["before_count"], out["before_last"]) == (False, 0, True)
    assert out["called"] is True and out["count"] == 2 and out["direct"] == 7
    assert out["last_result"] == 7
    assert out["last_call"] == {"name": "add", "args": {"a": 3, "b": 4}, "result": 7}
    assert out["same"] is True and out["unknown"] is False


async def test_reset_clears_one_tools_record() -> None:
    text = (
        ADD
        + """
other = Tool { function(args) return "x" end }
Procedure {
  function(input)
    add({a = 1, b = 1}); other({})
    add.reset()
    local after = { add.called(), add.call_count(), add.last_call() == nil, Tool.called("add"), other.called() }
    add({a = 2, b = 2})
    return { after = after, count = add.call_count(), name = add.last_call().name }
  end
}
"""
    )
    result, _ = await run(text)
    assert result.output == {"after": [False, 0, True, False, True], "count": 1, "name": "add"}
    assert len(result.tool_calls["add"]) == 1


async def test_unknown_tool_lookups_say_what_exists() -> None:
    for call in ('Tool.get("ad")', 'Tool("ad")({a = 1})'):
        text = ADD + f"Procedure {{ function(input) local r = {call}; return r end }}"
        result, _ = await run(text)
        assert result.status == "failed"
        assert result.error is not None
        assert "no tool named 'ad' is declared (tools: add)" in result.error.message
        assert result.error.line is not None


async def test_toolset_inline_tools_are_prefixed_and_offered_to_agents() -> None:
    text = """
Toolset "files" {
  description = "Files",
  tools = {
    { name = "read", description = "Read", input = { path = field.string{required = true} },
      handler = function(args) return "text of " .. args.path end },
    { name = "size", handler = function(args) return 3 end },
  }
}
reader = Agent { model = "openai/gpt-4o-mini", tools = { "files" } }
Mocks { reader = { tool_calls = { { tool = "files_read", args = { path = "a.txt" } } }, message = "done" } }
Procedure {
  function(input)
    reader("go")
    return { called = Tool.called("files_read"), result = Tool.last_result("files_read"),
             size = Tool("files_size")({}) }
  end
}
"""
    result, events = await run(text)
    assert result.status == "completed", result.error
    assert result.output == {"called": True, "result": "text of a.txt", "size": 3}
    completed = [c.tool for c in of_type(events, "tool_call") if c.stage == "completed"]
    assert completed == ["files_read", "files_size"]
    report = validate_source(source(text))
    assert report.ok and report.info is not None
    assert report.info.tools == ["files_read", "files_size"]
    assert report.info.toolsets == ["files"]


async def test_toolset_filters_group_and_prefix() -> None:
    text = (
        ADD
        + """
mul = Tool { function(args) return args.a * args.b end }
Toolset "math" { tools = { "add", mul } }
Toolset "extra" { tools = { { name = "neg", handler = function(args) return -args.a end } } }
a = Agent { model = "openai/gpt-4o-mini", tools = { {name = "math", exclude = {"mul"}} } }
b = Agent { model = "openai/gpt-4o-mini", tools = { {name = "math", include = {"mul"}, prefix = "calc"} } }
c = Agent { model = "openai/gpt-4o-mini", tools = { {name = "extra", include = {"neg"}, prefix = "x_"} } }
Mocks {
  a = { tool_calls = { { tool = "add", args = { a = 1, b = 2 } } }, message = "a" },
  b = { tool_calls = { { tool = "calc_mul", args = { a = 2, b = 5 } } }, message = "b" },
  c = { tool_calls = { { tool = "x_extra_neg", args = { a = 4 } } }, message = "c" },
}
Procedure {
  function(input)
    local ra, rb, rc = a(), b(), c()
    return { a = ra.tool_calls[1].result, b = rb.tool_calls[1].result, c = rc.tool_calls[1].result }
  end
}
"""
    )
    result, _ = await run(text)
    assert result.status == "completed", result.error
    assert result.output == {"a": 3, "b": 10, "c": -4}


async def test_agent_inline_tools_are_named_after_the_agent() -> None:
    text = """
helper = Agent {
  model = "openai/gpt-4o-mini",
  inline_tools = { { name = "shout", input = { text = field.string{} },
                     handler = function(args) return args.text:upper() end } },
}
Mocks { helper = { tool_calls = { { tool = "helper_shout", args = { text = "hi" } } }, message = "ok" } }
Procedure { function(input) helper(); return { r = Tool.last_result("helper_shout") } end }
"""
    result, _ = await run(text)
    assert result.status == "completed", result.error
    assert result.output == {"r": "HI"}
    assert result.tool_calls["helper_shout"][0]["result"] == "HI"


def test_toolset_mistakes_are_located() -> None:
    cases = {
        'Toolset "t" { tools = { { handler = function() end } } }': "tool 1 has no name",
        'Toolset "t" { tools = { { name = "x" } } }': "tool 'x' has no handler",
        'Toolset "t" { tool = {} }': "unknown key 'tool'",
        'a = Agent { inline_tools = { { name = "x" } } }': "tool 'x' has no handler",
    }
    for text, message in cases.items():
        report = validate_source(source("\n" + text + "\nProcedure { function() return {} end }"))
        (problem,) = report.diagnostics
        assert message in problem.message and problem.line == 2, problem


async def test_an_agent_listing_an_undeclared_tool_fails_where_it_is_called() -> None:
    text = 'a = Agent { model = "m/x", tools = { "nothing" } }\nProcedure { function() a() end }'
    result, _ = await run(text)
    assert result.status == "failed" and result.error is not None
    assert "lists tool 'nothing', which is not declared" in result.error.message
    assert result.error.line == 2


async def test_validate_accepts_unused_tactus_agent_keys_with_a_warning() -> None:
    text = (
        'a = Agent { model = {name = "openai/gpt-4o", temperature = 0.2}, module = "x",'
        " message_history = {}, my_setting = 1 }\n"
        "Procedure { function() return {} end }"
    )
    report = validate_source(source(text))
    assert report.ok
    messages = [d.message for d in report.diagnostics]
    assert "agent key 'module' is accepted but not used by Tide" in messages
    assert "agent key 'my_setting' is not used by Tide" in messages
    assert report.info is not None and report.info.agents[0].model == "openai/gpt-4o"
    # A near miss of a Tide key is still an error: it is a typo.
    report = validate_source(source('a = Agent { modle = "x" }\nProcedure { function() end }'))
    assert not report.ok


async def test_the_log_module_is_a_tool_that_writes_log_events() -> None:
    text = """
local log = require("tactus.tools.log")
Procedure {
  function(input)
    local first = log({ message = "checked the queue", level = "WARNING", data = { depth = 4 } })
    log({ message = "odd level", level = "loud" })
    return { first = first, count = log.call_count(), same = require("tactus.tools.log") == log }
  end
}
"""
    result, events = await run(text)
    assert result.status == "completed", result.error
    out = result.output
    assert out["first"] == {"logged": True, "level": "warn", "message": "checked the queue"}
    assert out["count"] == 2 and out["same"] is True
    logs = [(e.level, e.message, e.fields) for e in of_type(events, "log")]
    assert ("warn", "checked the queue", {"depth": 4}) in logs
    assert ("info", "odd level", {}) in logs


async def test_state_keys_through_the_State_namespace_and_subprocedure_defaults() -> None:
    text = """
Procedure "tally" {
  state = { seen = field.integer{ default = 10 } },
  function(input) State.seen = State.seen + 1; return { seen = State.seen } end
}
Procedure {
  state = { seen = field.integer{ default = 0 } },
  function(input)
    State.label = "night"
    local a = Procedure("tally")({})
    return { a = a.seen, label = state.label, missing = State.missing == nil, get = State.get("seen") }
  end
}
"""
    result, _ = await run(text)
    assert result.status == "completed", result.error
    # The main procedure's default came first; the sub-procedure's does not replace it.
    assert result.output == {"a": 1, "label": "night", "missing": True, "get": 1}
    assert result.state["label"] == "night"
