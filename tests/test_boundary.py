"""Values that cross the Lua boundary, errors that carry no text, and the C functions the hook
cannot interrupt: each ends in a clear error naming file:line, or is shown for what it is."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from runtime import RuntimeConfig
from runtime._convert import MAX_ENTRIES, to_lua
from runtime.errors import (
    TOP_LEVEL_HINT,
    DeclarationError,
    ProcedureRuntimeError,
    SandboxLimitError,
)
from tests.helpers import of_type, run

pytestmark = pytest.mark.anyio

LIMITS = RuntimeConfig(timeout_s=2.0, max_memory=32 * 1024 * 1024, inspect_timeout_s=5)


def procedure(body: str) -> str:
    return f"Procedure {{\n  function(input)\n{body}\n  end\n}}\n"


async def outcome(body: str, config: RuntimeConfig = LIMITS) -> tuple[Any, list[Any]]:
    result, events = await run(procedure(body), config=config)
    for event in events:
        json.dumps(event.model_dump(mode="json"))  # every event is JSON
    return result, events


async def error_of(body: str, config: RuntimeConfig = LIMITS) -> Any:
    result, _ = await outcome(body, config)
    assert result.status == "failed", result
    return result.error


# -- C functions the hook cannot interrupt: refused before they start --------------------------

C_LOOPS = {
    "rep_empty": ("return { n = #string.rep('', 2^53) }", None),
    "rep_empty_sep": ("return { n = #string.rep('', 2^40, '') }", None),
    "move": ("table.move({}, 1, 2^40, 2)", "table.move"),
    "concat": (
        "local t = setmetatable({}, {__index = function() return 'x' end})\n"
        "    return { s = table.concat(t, '', 1, 2^40) }",
        "table.concat",
    ),
    "unpack": ("return { table.unpack({}, 1, 2^40) }", "table.unpack"),
    "sort": (
        "local t = {1, 2, 3, 4}\n    while #t < 2^19 do table.move(t, 1, #t, #t + 1) end\n"
        "    table.sort(t)",
        "comparison function",
    ),
    "optional_pattern": (
        "local s = string.rep('a', 40)\n"
        "    return { m = s:match(string.rep('a?', 40) .. string.rep('a', 40)) }",
        "optional items",
    ),
    "long_pattern": (
        "local s = string.rep('a', 2^22)\n    return { m = s:find(string.rep('a', 2^20) .. 'b') }",
        "string.find",
    ),
    "gsub_backtracking": (
        "local s = string.rep('a', 5000)\n    return { n = select(2, s:gsub('.-.-.-b', '')) }",
        "string.gsub",
    ),
    "gmatch_balance": (
        "local s = string.rep('(', 100000)\n    for x in s:gmatch('%b()%b()') do end",
        "string.gmatch",
    ),
    "backreference": (
        "local s = string.rep('a', 100000)\n    return { m = s:find('(a*)%1%1b') }",
        "string.find",
    ),
    "sort_c_comparator": (
        "local t = {1, 2, 3, 4}\n    while #t < 2^19 do table.move(t, 1, #t, #t + 1) end\n"
        "    table.sort(t, rawequal)",
        "not a Lua function",
    ),
    "insert_claimed_length": (
        "local t = setmetatable({}, {__len = function() return math.maxinteger - 1 end})\n"
        "    table.insert(t, 1, 'x')",
        "table.insert",
    ),
    "remove_claimed_length": (
        "local t = setmetatable({}, {__len = function() return math.maxinteger - 1 end})\n"
        "    table.remove(t, 1)",
        "table.remove",
    ),
    "bounds_as_text": (
        "local t = setmetatable({}, {__index = function() return 'x' end})\n"
        "    return { s = table.concat(t, '', '1', '1e15') }",
        "table.concat",
    ),
    "span_that_wraps": (
        "local t = setmetatable({}, {__index = tostring})\n"
        "    return { n = #table.concat(t, '', math.mininteger, math.maxinteger) }",
        "table.concat",
    ),
    "c_metamethods": (
        "local t = setmetatable({}, {__index = setmetatable({}, {__index = tostring})})\n"
        "    return { n = #table.concat(t, '', 1, 2^23) }",
        "metamethods",
    ),
    "date_format": ("return { s = os.date(string.rep('%c', 100000)) }", "os.date"),
    "pack_format": ("return { s = string.pack(string.rep('x', 100000)) }", "string.pack"),
    "format_width": ("return { s = string.format('%999999d', 1) }", "invalid conversion"),
}


@pytest.mark.parametrize("case", C_LOOPS.values(), ids=C_LOOPS.keys())
@pytest.mark.timeout(20)
async def test_c_functions_refuse_unbounded_work(case: tuple[str, str | None]) -> None:
    body, expected = case
    began = time.monotonic()
    result, _ = await outcome("    " + body)
    assert time.monotonic() - began < 2.0
    if expected is None:
        assert result.status == "completed" and result.output == {"n": 0}
        return
    assert result.status == "failed"
    assert expected in result.error.message
    assert result.error.file == "proc.tac"
    assert result.error.line == 2 + body.count("\n") + 1


async def test_a_length_is_read_once() -> None:
    # C would read the length again, and call tostring (a C function) 2^40 times.
    body = """
    local reads = 0
    local t = setmetatable({}, {
      __len = function() reads = reads + 1 return reads == 1 and 1 or 2^40 end,
      __index = tostring,
    })
    return { n = #table.concat(t) }
    """
    result, _ = await outcome(body)
    assert result.status == "completed", result.error
    assert result.output["n"] < 100  # one element


async def test_insert_and_remove_on_a_claimed_length_behave_as_lua_does() -> None:
    body = """
    local function steps(t)
      table.insert(t, 1, 0)
      table.insert(t, #t + 1, 4)
      local first = table.remove(t, 1)
      local last = table.remove(t)
      table.insert(t, "x")
      local ok, err = pcall(table.insert, t, 9, "y")
      local ok2 = pcall(table.remove, t, 9)
      local copy = {}
      for i = 1, rawlen(t) do copy[i] = rawget(t, i) end
      return { t = copy, first = first, last = last, ok = ok, err = err:match("position.*"), ok2 = ok2 }
    end
    local claimed = setmetatable({1, 2, 3}, {__len = function(t) return rawlen(t) end})
    return { plain = steps({1, 2, 3}), claimed = steps(claimed) }
    """
    result, _ = await outcome(body)
    assert result.status == "completed", result.error
    assert result.output["plain"] == result.output["claimed"]
    assert result.output["claimed"]["t"] == [1, 2, 3, "x"]


async def test_ordinary_patterns_still_work() -> None:
    body = """
    local line = string.rep("key=value ", 1000)
    local pairs_found = 0
    for k, v in line:gmatch("(%w+)=(%w+)") do pairs_found = pairs_found + 1 end
    local trimmed = ("  " .. string.rep("x", 10000) .. "  "):match("^%s*(.-)%s*$")
    return { pairs = pairs_found, trimmed = #trimmed, opt = ("colour"):match("colou?r") }
    """
    result, _ = await outcome(body)
    assert result.output == {"pairs": 1000, "trimmed": 10000, "opt": "colour"}


# -- values that cannot cross ----------------------------------------------------------------


async def test_functions_and_cycles_in_log_fields_are_shown_not_fatal() -> None:
    body = """
    local t = { name = "loop" }
    t.self = t
    Log.info("x", { on_done = function() end, co = coroutine.create(function() end), t = t,
      nan = 0/0, inf = 1/0 })
    return { ok = true }
    """
    result, events = await outcome(body)
    assert result.status == "completed"
    (log,) = [e for e in of_type(events, "log") if e.message == "x"]
    assert log.fields["on_done"] == "<function>"
    assert log.fields["co"] in ("<thread>", "<function>")
    assert log.fields["t"] == {"name": "loop", "self": "<cycle>"}
    assert (log.fields["nan"], log.fields["inf"]) == ("NaN", "Infinity")


async def test_nan_and_infinity_are_refused_in_outputs_and_state() -> None:
    error = await error_of("    return { x = 0/0 }")
    assert "NaN" in error.message and (error.file, error.line) == ("proc.tac", 1)
    error = await error_of("    State.set('k', 1/0)")
    assert "infinities" in error.message and (error.file, error.line) == ("proc.tac", 3)


async def test_lone_surrogates_and_invalid_utf8_are_replaced() -> None:
    result, _ = await outcome(
        '    return { a = "\\u{D800}x", b = "\\xff", c = Json.decode(\'"\\\\ud800"\') }'
    )
    assert result.status == "completed"
    assert result.output == {"a": "\ufffd\ufffd\ufffdx", "b": "\ufffd", "c": "\ufffd"}


async def test_out_of_range_integers_and_deep_json_are_refused_clearly() -> None:
    error = await error_of("    local n = Json.decode('123456789012345678901234567890')")
    assert "64-bit" in error.message and (error.file, error.line) == ("proc.tac", 3)
    error = await error_of(
        "    local v = Json.decode(string.rep('[', 100000) .. string.rep(']', 100000))"
    )
    assert "nested" in error.message and error.line == 3
    error = await error_of("    local v = Json.decode('[NaN]')")
    assert "NaN is not JSON" in error.message


async def test_deep_nesting_has_a_limit() -> None:
    body = "    local t = {} local cur = t\n    for i = 1, 500 do cur.x = {} cur = cur.x end\n    State.set('deep', t)"
    error = await error_of(body)
    assert "nested more than" in error.message and error.line == 5


async def test_a_shared_table_many_times_over_is_bounded() -> None:
    body = "    local t = {1}\n    for i = 1, 60 do t = {t, t} end\n    State.set('dag', t)"
    error = await error_of(body, LIMITS.model_copy(update={"timeout_s": 60.0}))
    assert "entries" in error.message and error.line == 5


async def test_converting_a_value_runs_none_of_its_metamethods() -> None:
    body = """
    local spin = function() while true do end end
    local t = setmetatable({ a = 1 }, { __index = spin, __pairs = spin, __len = spin })
    State.set("k", t)
    Log.info("x", t)
    return { t = t, s = Json.encode(t) }
    """
    began = time.monotonic()
    result, _ = await outcome(body)
    assert result.status == "completed", result.error
    assert result.output == {"t": {"a": 1}, "s": '{"a": 1}'}
    assert time.monotonic() - began < 2.0


async def test_a_callable_table_is_not_a_procedure_or_tool_function() -> None:
    for text in (
        "Procedure { setmetatable({}, { __call = function() return {} end }) }\n",
        "t = Tool { { x = 1 } }\n" + procedure("    return t({})"),
    ):
        with pytest.raises(DeclarationError) as caught:
            await run(text, config=LIMITS)
        assert "must be a Lua function, not a table" in caught.value.message
        assert (caught.value.file, caught.value.line) == ("proc.tac", 1)


@pytest.mark.parametrize("value", ["0/0", "-1", "math.huge"])
async def test_an_agent_timeout_that_is_no_duration_is_refused(value: str) -> None:
    text = f'w = Agent {{ model = "scripted/default", timeout = {value} }}\n' + procedure(
        "    return {}"
    )
    with pytest.raises(DeclarationError) as caught:
        await run(text, config=LIMITS)
    assert "'timeout'" in caught.value.message and caught.value.line == 1


async def test_a_table_posing_as_a_handle_fails_clearly() -> None:
    error = await error_of("    State.set('h', { __tide_handle = 'agent:abc' })")
    assert "reserved" in error.message and error.line == 3


# -- errors without text ------------------------------------------------------------------------


async def test_an_error_lua_raises_in_c_names_the_line() -> None:
    body = """
    local s = string.rep("a", 100)
    local function f(c) return (string.gsub(s, "a", f)) end
    return { s = f("a") }
    """
    error = await error_of(body)
    assert "C stack overflow" in error.message and error.file == "proc.tac"
    error = await error_of("    error('no level', 0)")
    assert error.message == "no level" and error.line == 3


async def test_a_message_handler_does_not_run_once_the_run_is_stopped() -> None:
    # Lua calls it with hooks off when the error came from the hook: it would loop for good.
    body = "    xpcall(function() while true do end end, function() while true do end end)"
    error = await error_of(body, LIMITS.model_copy(update={"timeout_s": 0.5}))
    assert error.kind == "timeout" and error.line == 3


async def test_a_recursion_of_tail_calls_through_the_host_names_a_line() -> None:
    text = 'again = Procedure "again" { function(input) return again({}) end }\n' + procedure(
        "    return again({})"
    )
    result, _ = await run(text, config=LIMITS)
    assert result.status == "failed" and "C stack overflow" in result.error.message
    assert result.error.file == "proc.tac" and result.error.line is not None


async def test_quoting_is_bounded() -> None:
    error = await error_of("    local s = string.format('%q', string.rep('\\0', 8 * 1024 * 1024))")
    assert "quoting" in error.message and error.line == 3


async def test_a_decoded_value_reaching_lua_is_bounded() -> None:
    error = await error_of("    local t = Json.decode('[' .. string.rep('0,', 1100000) .. '0]')")
    assert "entries" in error.message and error.line == 3


def test_a_value_too_large_for_lua_is_refused_before_any_of_it_is_built() -> None:
    class NoTables:
        def table(self) -> Any:
            raise AssertionError("a table was built")

    with pytest.raises(ProcedureRuntimeError, match="more than 1,000,000 entries"):
        to_lua(NoTables(), [0] * (MAX_ENTRIES + 1))  # type: ignore[arg-type]


async def test_a_huge_error_message_is_cut() -> None:
    error = await error_of("    error(string.rep('x', 4 * 1024 * 1024))")
    assert len(error.message) < 20_000 and error.message.endswith("bytes]")
    assert error.line == 3


async def test_error_with_a_table_shows_the_table_and_the_line() -> None:
    error = await error_of("    error({ code = 42 })")
    assert error.message == 'error raised with a table: {"code": 42}'
    assert (error.file, error.line) == ("proc.tac", 3)


async def test_error_without_a_message_says_so() -> None:
    error = await error_of("    error()")
    assert "without a message" in error.message and error.line == 3


async def test_error_with_an_object_uses_its_tostring() -> None:
    error = await error_of(
        "    error(setmetatable({}, { __tostring = function() return 'custom' end }))"
    )
    assert error.message == "custom" and error.line == 3


async def test_host_errors_caught_by_pcall_are_text() -> None:
    body = """
    local ok, err = pcall(Json.decode, "{")
    local ok2, err2 = pcall(function() return State.get() end)
    return { kind = type(err), text = err, kind2 = type(err2) }
    """
    result, _ = await outcome(body)
    assert result.output["kind"] == "string" and result.output["kind2"] == "string"
    assert result.output["text"].startswith("proc.tac:")
    assert "invalid JSON" in result.output["text"]


async def test_circular_require_names_the_cycle(tmp_path: Any) -> None:
    from tests.helpers import source

    (tmp_path / "a.lua").write_text("require('b')\nreturn {}\n")
    (tmp_path / "b.lua").write_text("require('a')\nreturn {}\n")
    text = procedure("    require('a')\n    return {}")
    result, _ = await run(source(text, root=tmp_path), config=LIMITS)
    assert result.status == "failed"
    assert "circular require: a -> b -> a" in result.error.message


# -- memory across the boundary ------------------------------------------------------------------


async def test_state_beyond_the_memory_limit_fails_with_memory_limit() -> None:
    body = """
    local big = string.rep("x", 1024 * 1024)
    for i = 1, 1000 do State.set("k" .. i, big .. i) end
    """
    error = await error_of(body)
    assert error.kind == "memory_limit"
    assert (error.file, error.line) == ("proc.tac", 5)


async def test_setting_one_key_again_does_not_add_up() -> None:
    body = """
    local big = string.rep("x", 1024 * 1024)
    for i = 1, 200 do State.set("k", big .. i) end
    return { n = #State.get("k") }
    """
    result, _ = await outcome(body)
    assert result.status == "completed"


async def test_log_fields_are_capped_with_a_marker() -> None:
    body = '    Log.info(string.rep("m", 100000), { big = string.rep("y", 100000) })'
    _result, events = await outcome(body)
    (log,) = of_type(events, "log")
    assert len(log.message) < 70000 and "truncated" in log.message
    assert log.fields["big"].endswith("[truncated 34,464 characters]")


async def test_declarations_count_against_the_memory_limit() -> None:
    text = """
local prompt = string.rep("p", 4 * 1024 * 1024)
for i = 1, 100 do
  _G["writer" .. i] = Agent { model = "scripted/default", system_prompt = prompt }
end
Procedure { function(input) return {} end }
"""
    # Read before the run starts: the run is refused, as for any mistake in its declarations.
    with pytest.raises(SandboxLimitError) as caught:
        await run(text, config=LIMITS)
    assert caught.value.kind == "memory_limit"
    assert "agent declaration" in caught.value.message and caught.value.line == 4


async def test_many_small_declarations_reach_the_memory_limit() -> None:
    text = """
for i = 1, 1000000 do
  _G["t" .. i] = Tool { description = "d", function(args) return args end }
end
Procedure { function(input) return {} end }
"""
    with pytest.raises(SandboxLimitError) as caught:
        await run(text, config=LIMITS)
    assert caught.value.kind == "memory_limit" and caught.value.line == 3


async def test_one_text_named_many_times_is_stopped_before_it_is_all_copied() -> None:
    body = """
    local big = string.rep("t", 1024 * 1024)
    local items = {}
    for i = 1, 1000 do items[i] = big end
    State.set("items", items)
    """
    error = await error_of(body)
    assert error.kind == "memory_limit" and error.line == 7
    # Stopped once past the limit (32 MiB), not after copying 1 GB.
    reported = int(error.message.rsplit(": ", 1)[1].split()[0])
    assert reported < 40, error.message


LONGER = LIMITS.model_copy(update={"timeout_s": 60.0})


@pytest.mark.parametrize(
    "body",
    [
        'for i = 1, 1e9 do Log.debug("") end',  # empty, yet each an event someone keeps
        'for i = 1, 1e9 do print("") end',
        'for i = 1, 1e9 do State.set("k" .. i, i) end',  # small values under many keys
        "local echo = Tool { function(args) return {} end }\n    for i = 1, 1e9 do echo({}) end",
    ],
    ids=["log", "print", "state_keys", "tool_calls"],
)
async def test_a_flood_of_small_things_reaches_the_memory_limit(body: str) -> None:
    error = await error_of(f"    {body}", LONGER)
    assert error.kind == "memory_limit", error


async def test_a_flood_of_agent_turns_reaches_the_memory_limit() -> None:
    text = """
writer = Agent { model = "scripted/default" }
Mocks { writer = { message = "ok" } }
Procedure { function(input)
  for i = 1, 1e9 do writer("x") end
end }
"""
    result, _ = await run(text, config=LONGER)
    assert result.error is not None and result.error.kind == "memory_limit", result.error
    assert "agent 'writer''s turns" in result.error.message


async def test_a_top_level_out_of_time_says_which_limit_it_ran_into() -> None:
    text = "writer = Agent { model = 'scripted/default' }\nwhile true do end\n"
    config = LIMITS.model_copy(update={"timeout_s": 30.0, "inspect_timeout_s": 0.3})
    with pytest.raises(SandboxLimitError) as caught:
        await run(text, config=config)
    error = caught.value
    assert error.kind == "timeout" and error.line == 2
    assert error.message == "the procedure's top level ran out of time: it is read within 0.3 s"
    assert error.hint == TOP_LEVEL_HINT


async def test_a_log_flood_is_bounded() -> None:
    body = '    local s = string.rep("z", 60000)\n    for i = 1, 100000 do Log.info(s) end'
    error = await error_of(body)
    assert error.kind == "memory_limit" and error.line == 4
