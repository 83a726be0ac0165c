"""The DSL as procedures use it: Agent, Tool, Procedure, script mode, State, Log, Json, require."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from runtime import inspect_procedure
from runtime.errors import DeclarationError
from tests.helpers import of_type, run, source

pytestmark = pytest.mark.anyio


async def output_of(text: str, inputs: dict[str, Any] | None = None, **options: Any) -> Any:
    result, _ = await run(text, inputs, **options)
    assert result.status == "completed", result.error
    return result.output


async def error_of(text: str, inputs: dict[str, Any] | None = None, **options: Any) -> Any:
    result, events = await run(text, inputs, **options)
    assert result.status == "failed"
    assert of_type(events, "run_failed")[0].error == result.error
    return result.error


# -- Agent ----------------------------------------------------------------------------------------


async def test_agent_declared_by_assignment_answers_from_its_mock() -> None:
    text = """
writer = Agent { model = "openai/gpt-4o-mini", system_prompt = "Write." }
Mocks { writer = { message = "Once upon a time." } }
Procedure {
  function(input)
    local r = writer({ message = "Go." })
    return { output = r.output, response = r.response, usage = r.usage, cost = r.cost,
             turns = writer.turns(), turns2 = writer:turns() }
  end
}
"""
    output = await output_of(text)
    assert output["output"] == output["response"] == "Once upon a time."
    assert output["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    assert output["cost"] == 0
    assert output["turns"] == output["turns2"] == 1


async def test_agent_name_forms() -> None:
    text = """
Agent "poet" { model = "m/x" }
Agent("critic", { model = "m/x" })
local scribe = Agent { name = "scribe", model = "m/x" }
Mocks {
  poet = { message = "roses" },
  critic = { message = "meh" },
  scribe = { message = "noted" },
}
Procedure {
  function(input)
    local poet = Agent("poet")
    return {
      poet = poet("a").output,
      critic = Agent("critic")("b").output,
      scribe = scribe().output,
      same = tostring(Agent("poet")) == tostring(poet),
      name = tostring(poet),
    }
  end
}
"""
    output = await output_of(text)
    assert output == {
        "poet": "roses",
        "critic": "meh",
        "scribe": "noted",
        "same": True,
        "name": "agent poet",
    }


async def test_agent_call_forms_and_history() -> None:
    text = """
echo = Agent { model = "m/x" }
Mocks { echo = { temporal = { { message = "one" }, { message = "two" }, { message = "three" } } } }
Procedure {
  function(input)
    local a = echo("first").output
    local b = echo({ message = "second" }).output
    local c = echo().output
    local history = echo.history()
    return { a = a, b = b, c = c, turns = echo.turns(), roles = #history,
             first_user = history[1].content, last = history[#history].content }
  end
}
"""
    output = await output_of(text)
    assert (output["a"], output["b"], output["c"]) == ("one", "two", "three")
    assert output["turns"] == 3
    # user + assistant per turn, kept for the run.
    assert output["roles"] == 6
    assert output["first_user"] == "first"
    assert output["last"] == "three"


async def test_agent_with_declared_output_returns_a_table() -> None:
    text = """
extractor = Agent {
  model = "m/x",
  output = { title = field.string{ required = true }, score = field.integer{} },
}
Mocks { extractor = { data = { title = "Dune", score = 9 } } }
Procedure {
  function(input)
    local r = extractor("Extract.")
    return { title = r.output.title, score = r.output.score, kind = type(r.output) }
  end
}
"""
    assert await output_of(text) == {"title": "Dune", "score": 9, "kind": "table"}


async def test_unknown_agent_key_is_a_declaration_error_with_a_suggestion() -> None:
    text = 'writer = Agent { modle = "m/x" }\nProcedure { function(input) return {} end }\n'
    with pytest.raises(DeclarationError) as caught:
        await run(text)
    assert "unknown agent key 'modle'" in caught.value.message
    assert caught.value.hint == "did you mean 'model'?"
    assert (caught.value.file, caught.value.line) == ("proc.tac", 1)


# -- Tool ------------------------------------------------------------------------------------------


async def test_tool_handle_methods_with_dot_and_colon() -> None:
    text = """
add = Tool {
  description = "Add two numbers",
  input = { a = field.number{ required = true }, b = field.number{ required = true } },
  function(args) return args.a + args.b end
}
Procedure {
  function(input)
    local before = { called = add.called(), count = add:call_count(),
                     last = add.last_call(), result = add:last_result() }
    local first = add({ a = 1, b = 2 })
    local second = add({ a = 10, b = 5 })
    return {
      before = before,
      first = first, second = second,
      called = add.called(), called2 = add:called(),
      count = add.call_count(), count2 = add:call_count(),
      last_call = add.last_call(), last_call2 = add:last_call(),
      last_result = add.last_result(), last_result2 = add:last_result(),
    }
  end
}
"""
    result, events = await run(text)
    output = result.output
    assert output["before"] == {"called": False, "count": 0}
    assert (output["first"], output["second"]) == (3, 15)
    assert output["called"] is output["called2"] is True
    assert output["count"] == output["count2"] == 2
    assert (
        output["last_call"]
        == output["last_call2"]
        == {
            "name": "add",
            "args": {"a": 10, "b": 5},
            "result": 15,
        }
    )
    assert output["last_result"] == output["last_result2"] == 15
    calls = of_type(events, "tool_call")
    assert [(c.tool, c.stage) for c in calls] == [("add", "started"), ("add", "completed")] * 2
    assert calls[1].result == 3
    assert calls[0].call_id == calls[1].call_id != calls[2].call_id
    assert result.totals.tool_calls == 2
    assert result.tool_calls["add"] == [
        {"args": {"a": 1, "b": 2}, "result": 3},
        {"args": {"a": 10, "b": 5}, "result": 15},
    ]


async def test_tool_input_is_checked() -> None:
    text = """
add = Tool { input = { a = field.number{ required = true } }, function(args) return args.a end }
Procedure {
  function(input)
    return { v = add({ b = 1 }) }
  end
}
"""
    error = await error_of(text)
    assert error.kind == "input"
    assert "a: Field required" in error.message
    assert (error.file, error.line) == ("proc.tac", 5)


async def test_tool_errors_fail_the_run_with_a_location() -> None:
    text = """
boom = Tool { function(args) error("tool exploded") end }
Procedure {
  function(input)
    return { v = boom({}) }
  end
}
"""
    result, events = await run(text)
    assert result.error is not None
    assert "tool exploded" in result.error.message
    assert (result.error.file, result.error.line) == ("proc.tac", 2)
    assert [c.stage for c in of_type(events, "tool_call")] == ["started", "failed"]


async def test_tool_mock_returns_in_mock_mode() -> None:
    text = """
weather = Tool { function(args) error("no network in tests") end }
Mocks { weather = { returns = { temp = 21 } } }
Procedure { function(input) return { w = weather({ city = "Oslo" }) } end }
"""
    assert await output_of(text) == {"w": {"temp": 21}}


# -- Procedure -------------------------------------------------------------------------------------


async def test_unnamed_main_procedure() -> None:
    text = """
Procedure {
  input = { n = field.integer{ default = 2 } },
  output = { doubled = field.integer{ required = true } },
  function(input) return { doubled = input.n * 2 } end
}
"""
    assert await output_of(text) == {"doubled": 4}
    assert await output_of(text, {"n": 21}) == {"doubled": 42}


async def test_main_assigned_procedure_with_helpers() -> None:
    text = """
helper = Procedure "helper" {
  input = { x = field.integer{ required = true } },
  output = { y = field.integer{ required = true } },
  function(input) return { y = input.x + 1 } end
}
square = Procedure {
  input = { x = field.integer{ required = true } },
  function(input) return { y = input.x * input.x } end
}
main = Procedure {
  input = { x = field.integer{ default = 3 } },
  function(input)
    return { plus_one = helper({ x = input.x }).y, squared = square({ x = input.x }).y }
  end
}
"""
    assert await output_of(text) == {"plus_one": 4, "squared": 9}


async def test_subprocedure_input_is_checked() -> None:
    text = """
helper = Procedure "helper" {
  input = { x = field.integer{ required = true } },
  function(input) return { y = input.x } end
}
main = Procedure {
  function(input)
    local out = helper({ z = 1 })
    return out
  end
}
"""
    error = await error_of(text)
    assert error.kind == "input"
    assert "x: Field required" in error.message
    assert "z: is not a declared input" in error.message
    assert (error.file, error.line) == ("proc.tac", 8)


async def test_subprocedure_output_is_checked() -> None:
    text = """
helper = Procedure "helper" {
  output = { y = field.integer{ required = true } },
  function(input) return { y = "not a number" } end
}
main = Procedure {
  function(input)
    local out = helper({})
    return out
  end
}
"""
    error = await error_of(text)
    assert error.kind == "output_validation"
    assert "procedure 'helper'" in error.message
    assert "y:" in error.message
    assert (error.file, error.line) == ("proc.tac", 8)


async def test_procedure_state_defaults() -> None:
    text = """
Procedure {
  state = { count = field.integer{ default = 5 }, label = "x" },
  function(input)
    State.increment("count")
    return { count = State.get("count"), label = state.label }
  end
}
"""
    result, _ = await run(text)
    assert result.output == {"count": 6, "label": "x"}
    assert result.state == {"count": 6, "label": "x"}


async def test_a_file_without_a_procedure() -> None:
    with pytest.raises(DeclarationError, match="declares no procedure"):
        await run('writer = Agent { model = "m/x" }\n')


async def test_a_procedure_without_a_function() -> None:
    with pytest.raises(DeclarationError, match="no function"):
        await run("Procedure { input = {} }\n")


# -- script mode ---------------------------------------------------------------------------------


async def test_script_mode() -> None:
    text = """
input { topic = field.string{ default = "tides" }, n = field.integer{ required = true } }
output { summary = field.string{ required = true }, n = field.integer{} }
summarizer = Agent { model = "m/x" }
Mocks { summarizer = { message = "All about tides." } }
local r = summarizer("Summarize " .. input.topic)
return { summary = r.output, n = input.n }
"""
    info = inspect_procedure(source(text))
    assert info.mode == "script"
    assert set(info.inputs) == {"topic", "n"}
    assert set(info.outputs) == {"summary", "n"}
    assert await output_of(text, {"n": 7}) == {"summary": "All about tides.", "n": 7}


async def test_script_mode_output_is_validated() -> None:
    text = 'output { n = field.integer{ required = true } }\nreturn { n = "seven" }\n'
    result, events = await run(text)
    assert result.status == "failed"
    (validation,) = of_type(events, "output_validation")
    assert validation.ok is False
    assert [e.path for e in validation.errors] == ["n"]
    assert result.output == {"n": "seven"}


async def test_script_without_declarations_returns_its_value() -> None:
    assert await output_of(
        "local t = {}\nfor i = 1, 3 do t[i] = i * i end\nreturn { squares = t }\n"
    ) == {"squares": [1, 4, 9]}


# -- State, Log, Json, print --------------------------------------------------------------------


async def test_state_functions_and_proxy() -> None:
    text = """
Procedure {
  function(input)
    State.set("a", 1)
    State.increment("a", 4)
    State.append("items", "x")
    State.append("items", "y")
    state.b = "bee"
    local snapshot = State.all()
    state.gone = 1
    state.gone = nil
    return { a = State.get("a"), missing = State.get("nope", "dflt"), b = state.b,
             items = state.items, keys = snapshot }
  end
}
"""
    result, _ = await run(text)
    assert result.output == {
        "a": 5,
        "missing": "dflt",
        "b": "bee",
        "items": ["x", "y"],
        "keys": {"a": 5, "items": ["x", "y"], "b": "bee"},
    }
    assert result.state == {"a": 5, "items": ["x", "y"], "b": "bee"}


async def test_state_misuse_names_the_line() -> None:
    text = 'Procedure {\n  function(input)\n    State.set("s", "text")\n    State.increment("s")\n  end\n}\n'
    error = await error_of(text)
    assert "State.increment('s') needs numbers" in error.message
    assert error.line == 4


async def test_log_and_print_become_log_events() -> None:
    text = """
Procedure {
  function(input)
    Log.debug("d")
    Log.info("hello", { who = "Ada", n = 2 })
    Log.warning("careful")
    Log.error("bad")
    print("printed", 42)
    return {}
  end
}
"""
    _, events = await run(text)
    logs = of_type(events, "log")
    assert [(e.level, e.message) for e in logs] == [
        ("debug", "d"),
        ("info", "hello"),
        ("warn", "careful"),
        ("error", "bad"),
        ("info", "printed\t42"),
    ]
    assert logs[1].fields == {"who": "Ada", "n": 2}
    assert [e.source for e in logs] == [f"proc.tac:{n}" for n in (4, 5, 6, 7, 8)]


async def test_unknown_namespace_function() -> None:
    error = await error_of("Procedure { function(input) Log.shout('x') end }\n")
    assert "Log.shout does not exist" in error.message
    assert error.line == 1


async def test_json_encode_and_decode() -> None:
    text = """
Procedure {
  function(input)
    local text = Json.encode({ name = "Ada", tags = { "a", "b" } })
    local back = Json.decode(text)
    return { text_kind = type(text), name = back.name, tags = back.tags,
             n = Json.decode("[1, 2, 3]")[3] }
  end
}
"""
    assert await output_of(text) == {
        "text_kind": "string",
        "name": "Ada",
        "tags": ["a", "b"],
        "n": 3,
    }


async def test_json_decode_error_names_the_line() -> None:
    error = await error_of('Procedure {\n  function(input)\n    Json.decode("{oops")\n  end\n}\n')
    assert "Json.decode: invalid JSON" in error.message
    assert (error.file, error.line) == ("proc.tac", 3)


async def test_runtime_error_location() -> None:
    error = await error_of(
        "Procedure {\n  function(input)\n    local x = nil\n    return x.y\n  end\n}\n"
    )
    assert error.kind == "runtime"
    assert (error.file, error.line) == ("proc.tac", 4)
    assert "attempt to index a nil value" in error.message


# -- require ---------------------------------------------------------------------------------------


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


async def test_require_project_files(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "lib/util.lua": (
                "Log.info('loading util')\n"
                "local M = {}\nfunction M.shout(s) return s:upper() .. '!' end\nreturn M\n"
            ),
            "helpers.tac": "greeting = 'hi'\n",
        },
    )
    text = """
local util = require("lib.util")
local again = require("lib.util")
require("helpers")
Procedure {
  function(input)
    return { shout = util.shout("hey"), same = util == again, greeting = greeting }
  end
}
"""
    result, events = await run(source(text, root=root))
    assert result.output == {"shout": "HEY!", "same": True, "greeting": "hi"}
    # Loaded once per run, however often it is required.
    assert [e.message for e in of_type(events, "log")] == ["loading util"]


async def test_require_done_tool() -> None:
    text = """
local done = require("tactus.tools.done")
worker = Agent { model = "m/x", tools = { done } }
Mocks { worker = { tool_calls = { { tool = "done", args = { reason = "all finished" } } } } }
Procedure {
  function(input)
    local r = worker("Work.")
    return { output = r.output, called = done.called(), reason = done.last_call().args.reason,
             name = tostring(done) }
  end
}
"""
    result, events = await run(text)
    assert result.output == {
        "output": "all finished",
        "called": True,
        "reason": "all finished",
        "name": "tool done",
    }
    assert [(c.tool, c.stage) for c in of_type(events, "tool_call")] == [
        ("done", "started"),
        ("done", "completed"),
    ]


@pytest.mark.parametrize("name", ["../secret", "/etc/passwd", "lib/../../secret", "a..b", ""])
async def test_require_refuses_paths(tmp_path: Path, name: str) -> None:
    root = project(tmp_path / "project", {"main.tac": ""})
    (tmp_path / "secret.lua").write_text("return 'leaked'")
    text = f'Procedure {{ function(input) return {{ v = require("{name}") }} end }}\n'
    result, _ = await run(source(text, root=root))
    assert result.status == "failed"
    assert result.error is not None
    assert "module names are dotted identifiers" in result.error.message
    assert "leaked" not in str(result.output)


async def test_require_refuses_a_link_that_leaves_the_project(tmp_path: Path) -> None:
    root = project(tmp_path / "project", {"main.tac": ""})
    (tmp_path / "secret.lua").write_text("return 'leaked'")
    os.symlink(tmp_path / "secret.lua", root / "escape.lua")
    text = 'Procedure { function(input) return { v = require("escape") } end }\n'
    result, _ = await run(source(text, root=root))
    assert result.error is not None
    assert "resolves outside the project folder" in result.error.message


async def test_require_missing_module(tmp_path: Path) -> None:
    text = 'Procedure { function(input) return { v = require("nowhere.mod") } end }\n'
    result, _ = await run(source(text, root=tmp_path))
    assert result.error is not None
    assert "module 'nowhere.mod' not found" in result.error.message
    assert result.error.hint is not None and "nowhere/mod.tac" in result.error.hint


async def test_require_without_a_project_folder() -> None:
    result, _ = await run('Procedure { function(input) return { v = require("x") } end }\n')
    assert result.error is not None
    assert "has no project folder" in result.error.message


async def test_syntax_error_in_a_module_names_the_module(tmp_path: Path) -> None:
    root = project(tmp_path, {"broken.lua": "local x = = 1\n"})
    text = 'Procedure { function(input) require("broken") return {} end }\n'
    result, _ = await run(source(text, root=root))
    assert result.error is not None
    assert (result.error.file, result.error.line) == ("broken.lua", 1)


# -- inspection -------------------------------------------------------------------------------------


def test_inspection_reads_declarations_without_running_agents() -> None:
    text = """
writer = Agent { model = "openai/gpt-4o-mini", output = { title = field.string{} } }
Agent "critic" { provider = "anthropic", model = "claude-3-5-haiku-latest" }
multiply = Tool { function(args) return 1 end }
Mocks { writer = { data = { title = "T" } } }
Procedure {
  input = { topic = field.string{ required = true, description = "About" } },
  output = { story = field.string{} },
  function(input) return { story = writer("x").output.title } end
}
Specification([[
Feature: Stories
  Scenario: one
    Given the procedure has started
]])
"""
    info = inspect_procedure(source(text))
    assert info.mode == "procedure"
    assert [(a.name, a.model) for a in info.agents] == [
        ("writer", "openai/gpt-4o-mini"),
        ("critic", "anthropic/claude-3-5-haiku-latest"),
    ]
    assert info.tools == ["multiply"]
    assert info.inputs["topic"].required is True
    assert "writer" in info.mocks
    assert len(info.specifications) == 1
    assert info.specifications[0][0].strip().startswith("Feature: Stories")
    assert info.describe()["inputs"] == [
        {"name": "topic", "type": "string", "required": True, "description": "About"}
    ]
