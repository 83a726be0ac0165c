"""The sandbox: what procedure code cannot reach, and the limits that stop runaway code.

Every limit is tested through a real run (the contract users see) with small limits; the
timeouts here are safety nets, never measured.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anyio
import lupa.lua54 as lupa
import pytest

from runtime import RuntimeConfig
from runtime.errors import ProcedureLoadError, ProcedureSyntaxError, SandboxLimitError, TideError
from runtime.sandbox import Sandbox
from runtime.source import ProcedureSource
from tests.helpers import of_type, run, source

pytestmark = pytest.mark.anyio

# Small limits, so a runaway procedure is stopped quickly.
LIMITS = RuntimeConfig(timeout_s=0.3, max_memory=32 * 1024 * 1024, inspect_timeout_s=5)


def lua(code: str, **options: Any) -> Any:
    """Run ``code`` in a bare sandbox (no DSL host) and return what it returns."""
    sandbox = Sandbox({}, **options)
    return sandbox.call(sandbox.compile(code, "t.lua"))


def procedure(body: str) -> str:
    """A procedure whose function runs ``body``."""
    return f"Procedure {{\n  function(input)\n{body}\n  end\n}}\n"


async def failure(body: str, config: RuntimeConfig = LIMITS, *, declarations: str = "") -> Any:
    result, events = await run(declarations + procedure(body), config=config)
    assert result.status == "failed"
    (failed,) = of_type(events, "run_failed")
    assert failed.error == result.error
    return result.error


# -- what is not there --------------------------------------------------------------------------

REMOVED = [
    "io",
    "debug",
    "package",
    "load",
    "loadstring",
    "dofile",
    "loadfile",
    "collectgarbage",
]


def test_os_and_python_are_safe_subsets() -> None:
    # os.time/date/clock (tests/library) and python.iter are all there is of them.
    for name in ("os.getenv", "os.remove", "os.exit", "python.eval", "python.builtins"):
        ok, message = lua(f"return pcall(function() return {name} end)")
        assert ok is False and "not available" in message


@pytest.mark.parametrize("name", REMOVED)
def test_global_is_absent(name: str) -> None:
    assert lua(f"return type({name}), rawget(_G, '{name}'), _ENV.{name}") == ("nil", None, None)


def test_string_dump_is_absent() -> None:
    assert lua("return type(string.dump), type(('').dump)") == ("nil", "nil")


@pytest.mark.parametrize("name", [*REMOVED, "string.dump"])
async def test_global_is_absent_in_a_procedure(name: str) -> None:
    result, _ = await run(procedure(f"    return {{ kind = type({name}) }}"))
    assert result.output == {"kind": "nil"}


async def test_no_python_attributes_on_functions_and_handles() -> None:
    body = """
    local function try(f) local ok, err = pcall(f) return ok, tostring(err) end
    local results = {}
    results.log = { try(function() return Log.info.__class__ end) }
    results.agent = { try(function() return Agent.__globals__ end) }
    results.handle = { try(function() return writer.__class__.__bases__ end) }
    results.method = { try(function() return helper.called.__code__ end) }
    helper({})
    local returned = helper.last_result()   -- a handle that went through Python
    results.kind = type(returned)
    results.same = rawequal(returned, writer)
    results.metatable = getmetatable(writer)
    return results
    """
    text = (
        'writer = Agent { model = "m/x" }\n'
        "helper = Tool { function(args) return writer end }\n" + procedure(body)
    )
    result, _ = await run(text)
    output = result.output
    for key in ("log", "agent", "handle", "method"):
        ok, message = output[key]
        assert ok is False, key
        assert "attempt to index" in message or "not accessible" in message, (key, message)
    # Lua never holds a Python object: the handle comes back as itself.
    assert output["kind"] == "table"
    assert output["same"] is True
    assert output["metatable"] is False


async def test_handles_cannot_be_rewired() -> None:
    error = await failure(
        "    writer.turns = function() return 99 end",
        declarations='writer = Agent { model = "m/x" }\n',
    )
    assert "cannot assign into a agent handle" in error.message
    assert (error.file, error.line) == ("proc.tac", 4)


def test_binary_chunks_are_refused() -> None:
    dumped = lupa.LuaRuntime(encoding=None).eval("string.dump(function() return 1 end)")
    assert dumped.startswith(b"\x1bLua")
    sandbox = Sandbox({})
    with pytest.raises(ProcedureSyntaxError, match="binary chunk"):
        sandbox.compile(dumped, "chunk.luac")


def test_binary_files_are_refused(tmp_path: Path) -> None:
    dumped = lupa.LuaRuntime(encoding=None).eval("string.dump(function() return 1 end)")
    path = tmp_path / "chunk.tac"
    path.write_bytes(dumped)
    with pytest.raises(ProcedureLoadError, match="binary file"):
        ProcedureSource.from_path(path)


async def test_a_binary_module_is_refused(tmp_path: Path) -> None:
    dumped = lupa.LuaRuntime(encoding=None).eval("string.dump(function() return 1 end)")
    (tmp_path / "evil.lua").write_bytes(dumped)
    text = procedure("    require('evil')\n    return {}")
    result, _ = await run(source(text, root=tmp_path))
    assert result.status == "failed"
    assert result.error is not None
    assert "binary" in result.error.message


async def test_finalizers_are_refused() -> None:
    """A ``__gc`` finalizer would run where no hook stops it: after the run, or at close."""
    error = await failure(
        "    setmetatable({}, { __gc = function() while true do end end })\n    return {}"
    )
    assert "__gc" in error.message
    assert error.line == 3


async def test_other_metatables_still_work() -> None:
    body = """
    local v = setmetatable({}, { __index = function(_, k) return k .. "!" end })
    return { value = v.hey }
    """
    result, _ = await run(procedure(body))
    assert result.output == {"value": "hey!"}


# -- runaway code -------------------------------------------------------------------------------

RUNAWAYS = {
    "loop": "    while true do end",
    "loop_in_pcall": "    pcall(function() while true do end end)\n    while true do end",
    "pcall_in_a_loop": "    while true do pcall(error, 'again') end",
    "coroutine_wrap": "    coroutine.wrap(function() while true do end end)()",
    "coroutine_resume": (
        "    local co = coroutine.create(function() while true do end end)\n"
        "    local ok, err = coroutine.resume(co)\n"
        "    while true do end"
    ),
    "pcall_in_coroutine": (
        "    coroutine.wrap(function() pcall(function() while true do end end) end)()"
    ),
    "xpcall_with_handler": "    xpcall(function() while true do end end, function(e) return e end)",
    "recursion_in_pcall": ("    local function f() return pcall(f) end\n    while true do f() end"),
}


@pytest.mark.parametrize("body", RUNAWAYS.values(), ids=RUNAWAYS.keys())
@pytest.mark.timeout(30)
async def test_runaway_code_is_stopped_by_the_time_limit(body: str) -> None:
    error = await failure(body)
    assert error.kind == "timeout"
    assert "ran out of time" in error.message
    assert error.hint is not None and "--timeout" in error.hint


BOMBS = {
    "table": "    local t = {}\n    for i = 1, 1e9 do t[i] = ('x'):rep(64) .. i end",
    "string": "    local s = ('x'):rep(1e9)",
    "doubling": "    local s = 'x'\n    while true do s = s .. s end",
    "in_pcall": (
        "    local ok = pcall(function() local t = {} for i = 1, 1e9 do t[i] = {i} end end)\n"
        "    return { ok = ok }"
    ),
    "in_coroutine": (
        "    coroutine.wrap(function() local t = {} for i = 1, 1e9 do t[i] = {i} end end)()"
    ),
    "in_resumed_coroutine": (
        "    local co = coroutine.create(function()\n"
        "      local t = {} for i = 1, 1e9 do t[i] = {i} end\n"
        "    end)\n"
        "    local ok = coroutine.resume(co)\n"
        "    return { ok = ok }"
    ),
    # Most of the memory is taken in one call, the rest where the value is copied.
    "one_large_value": "    return { x = ('o'):rep(30 * 1024 * 1024) }",
    # The memory stays in use after the error is caught: stopping must not need any.
    "kept_after_pcall": (
        "    local keep = {}\n"
        "    local ok = pcall(function() for i = 1, 1e9 do keep[i] = {i} end end)\n"
        "    return { ok = ok, n = #keep }"
    ),
    "kept_with_a_looping_handler": (
        "    local keep = {}\n"
        "    xpcall(function() for i = 1, 1e9 do keep[i] = {i} end end,\n"
        "      function() while true do end end)"
    ),
}


# The line each bomb runs out of memory on (the procedure's body starts on line 3).
BOMB_LINES = {
    "table": 4,
    "string": 3,
    "doubling": 4,
    "in_pcall": 3,
    "in_coroutine": 3,
    "in_resumed_coroutine": 4,
    "one_large_value": 3,
    "kept_after_pcall": 4,
    "kept_with_a_looping_handler": 4,
}


@pytest.mark.parametrize("name", BOMBS.keys())
@pytest.mark.timeout(30)
async def test_memory_bombs_are_stopped_naming_the_line(name: str) -> None:
    error = await failure(BOMBS[name], LIMITS.model_copy(update={"timeout_s": 60.0}))
    assert error.kind == "memory_limit"
    assert "ran out of memory" in error.message
    assert error.file is not None and error.file.endswith(".tac"), error
    assert error.line == BOMB_LINES[name], error


def test_lua_heap_exhaustion_names_the_line_in_a_bare_sandbox() -> None:
    sandbox = Sandbox({}, max_memory=16 * 1024 * 1024)
    chunk = sandbox.compile("local s = 'x'\nlocal n = 0\nwhile true do\n  s = s .. s\nend", "t.lua")
    with pytest.raises(SandboxLimitError) as caught:
        sandbox.call(chunk)
    assert caught.value.kind == "memory_limit"
    assert (caught.value.file, caught.value.line) == ("t.lua", 4)


@pytest.mark.timeout(30)
def test_abort_from_another_thread_stops_a_loop() -> None:
    sandbox = Sandbox({})
    chunk = sandbox.compile("local n = 0 while true do n = n + 1 end", "t.lua")
    started = threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        started.set()
        try:
            sandbox.call(chunk)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    started.wait()
    sandbox.abort("cancelled")
    thread.join(timeout=20)
    assert not thread.is_alive()
    (error,) = errors
    assert isinstance(error, SandboxLimitError)
    assert error.kind == "cancelled"


def test_a_stopped_run_stops_at_its_next_host_call() -> None:
    # A loop of host calls runs few instructions between the hook's ticks, each maybe slow.
    calls: list[str] = []

    def log(level: str, message: str, *_: Any) -> None:
        calls.append(message)
        if len(calls) == 3:
            sandbox.abort("cancelled")

    sandbox = Sandbox({"log": log})
    with pytest.raises(SandboxLimitError) as caught:
        lua_in(sandbox, "while true do print('x') end")
    assert caught.value.kind == "cancelled" and len(calls) == 3


def test_the_first_abort_reason_wins() -> None:
    sandbox = Sandbox({})
    sandbox.abort("timeout")
    sandbox.abort("cancelled")
    assert sandbox.abort_reason == "timeout"
    with pytest.raises(SandboxLimitError) as caught:
        lua_in(sandbox, "while true do end")
    assert caught.value.kind == "timeout"


def lua_in(sandbox: Sandbox, code: str) -> Any:
    return sandbox.call(sandbox.compile(code, "t.lua"))


# -- string patterns ----------------------------------------------------------------------------


async def test_pathological_pattern_is_refused_with_a_clear_message() -> None:
    body = '    local s = ("a"):rep(30000)\n    local found = s:find(".-.-.-.-b")\n    return {}'
    error = await failure(body)
    assert error.kind == "runtime"
    assert "pattern" in error.message and "too long" in error.message
    assert "simplify the pattern" in error.message
    assert (error.file, error.line) == ("proc.tac", 4)


@pytest.mark.parametrize("function", ["find", "match", "gmatch", "gsub"])
def test_every_matching_function_is_guarded(function: str) -> None:
    extra = ', "x"' if function == "gsub" else ""
    code = f'local s = ("a"):rep(30000) local r = string.{function}(s, ".-.-.-.-b"{extra}) return 1'
    with pytest.raises(TideError, match=f"string.{function}: pattern"):
        lua(code)


def test_replacing_string_functions_does_not_blind_the_guard() -> None:
    code = (
        'string.sub = function() return "" end\n'
        "string.find = string.find\n"
        'local s = ("a"):rep(30000) local r = s:find(".-.-.-.-b") return r'
    )
    with pytest.raises(TideError, match="too long"):
        lua(code, deadline=None)


def test_ordinary_patterns_work() -> None:
    code = r"""
    local text = ("  padded words  "):rep(200)
    local trimmed = text:match("^%s*(.-)%s*$")
    local tagged, count = ("hello big world"):gsub("(%w+)", "<%1>")
    local plain = ("a.b.c"):find(".", 2, true)
    local words = {}
    for w in ("one two  three"):gmatch("%S+") do words[#words + 1] = w end
    local key, value = ("name = Ada"):match("^(%w+)%s*=%s*(.-)$")
    return #trimmed, trimmed:sub(1, 6), tagged, count, plain, #words, key, value
    """
    assert lua(code) == (len(("  padded words  " * 200).strip()), "padded", "<hello> <big> <world>",
                         3, 2, 3, "name", "Ada")  # fmt: skip


# -- isolation ----------------------------------------------------------------------------------


async def test_each_run_has_its_own_lua_state() -> None:
    text = procedure("    counter = (counter or 0) + 1\n    return { counter = counter }")
    outputs = [(await run(text))[0].output for _ in range(2)]
    assert outputs == [{"counter": 1}, {"counter": 1}]


async def test_concurrent_runs_do_not_share_globals() -> None:
    text = (
        "Procedure { input = { n = field.integer{} },\n"
        "  function(input)\n"
        "    shared = input.n\n"
        "    for i = 1, 2000 do local x = i end\n"
        "    return { n = shared }\n"
        "  end }\n"
    )
    outputs: dict[int, Any] = {}

    async def one(n: int) -> None:
        outputs[n] = (await run(text, {"n": n}))[0].output

    async with anyio.create_task_group() as group:
        for n in range(20):
            group.start_soon(one, n)
    assert outputs == {n: {"n": n} for n in range(20)}
