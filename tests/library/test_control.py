"""os.time/date/clock, Stop, Iterations, System.alert, Sleep, Retry.with_backoff, python.iter."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from runtime import Runtime, RuntimeConfig
from runtime.host import Host
from runtime.inspect import _Inspecting
from runtime.validate import validate_source
from tests.helpers import of_type, run, source

pytestmark = pytest.mark.anyio


def procedure(body: str) -> str:
    return f"Procedure {{\n  function(input)\n{body}\n  end\n}}\n"


async def test_os_subset_reads_the_clock() -> None:
    before = int(time.time())
    result, _ = await run(
        procedure("""
    local t = os.time()
    return {
      t = t, fixed = os.time({year = 2024, month = 1, day = 2, hour = 3}),
      date = os.date("%Y-%m-%d", 0), utc = os.date("!%H:%M", 3600), default = type(os.date()),
      table = os.date("!*t", 86400).day, clock = type(os.clock()),
      missing = select(2, pcall(function() return os.getenv("HOME") end)),
    }""")
    )
    out = result.output
    assert before <= out["t"] <= int(time.time()) + 1
    assert isinstance(out["fixed"], int) and out["utc"] == "01:00" and out["table"] == 2
    assert out["default"] == "string" and out["clock"] == "number"
    assert len(out["date"]) == 10
    assert "os.getenv is not available in procedures" in out["missing"]


class _Replaying(_Inspecting):
    """Effects with a journal that answers every read as a resumed run would."""

    def __init__(self) -> None:
        self.journal = self
        self.seen: list[tuple[str, str, Any]] = []

    def run_sync(self, kind: str, name: str, args: Any, compute: Any) -> Any:
        self.seen.append((kind, name, args))
        return {"os.time": 1_000_000.5, "os.clock": 2.0}.get(name)


def test_clock_reads_and_sleeps_go_through_the_journal() -> None:
    effects = _Replaying()
    host = Host(source("x = 1"), effects)
    chunk = host.sandbox.compile(
        'Sleep(30) return os.time(), os.date("!%Y", os.time()), os.clock(), os.date("!%d")', "t.lua"
    )
    assert host.sandbox.call(chunk) == (1_000_000, "1970", 2.0, "12")
    assert effects.seen == [
        ("sleep", "Sleep", 30.0),
        ("read", "os.time", None),
        ("read", "os.time", None),
        ("read", "os.clock", None),
        ("read", "os.time", None),
    ]


async def test_stop_and_iterations() -> None:
    result, _ = await run(
        procedure("""
    local before = { Stop.requested(), Stop.reason() == nil, Iterations.current() }
    for i = 1, 3 do Iterations.increment() end
    Stop.request("enough", false)
    return { before = before, requested = Stop.requested(), reason = Stop.reason(),
             success = Stop.success(), n = Iterations.current(),
             exceeded = { Iterations.exceeded(3), Iterations.exceeded(4) } }""")
    )
    assert result.output == {
        "before": [False, True, 0],
        "requested": True,
        "reason": "enough",
        "success": False,
        "n": 3,
        "exceeded": [True, False],
    }
    assert result.stop_reason == "enough"


async def test_system_alert_is_an_event() -> None:
    result, events = await run(
        procedure(
            '    System.alert{ message = "disk low", level = "warning", context = {free = 3} }'
        )
    )
    (alert,) = of_type(events, "system_alert")
    assert (alert.level, alert.message, alert.context) == ("warning", "disk low", {"free": 3})
    result, _ = await run(procedure('    System.alert{ message = "x", level = "loud" }'))
    assert result.error is not None and "unknown level 'loud'" in result.error.message
    assert result.error.line == 3


async def test_retry_with_backoff() -> None:
    result, _ = await run(
        procedure("""
    local seen, n = {}, 0
    local value = Retry.with_backoff(function()
      n = n + 1
      if n < 3 then error("flaky") end
      return "ok"
    end, { initial_delay = 0.01, backoff_factor = 3, on_error = function(e) seen[#seen + 1] = e end })
    local ok, err = pcall(Retry.with_backoff, function() error("down") end,
                          { max_attempts = 2, initial_delay = 0 })
    return { value = value, n = n, attempts = #seen, first = seen[1], ok = ok, err = err }""")
    )
    out = result.output
    assert (out["value"], out["n"], out["attempts"], out["ok"]) == ("ok", 3, 2, False)
    assert out["first"]["attempt"] == 1 and out["first"]["max_attempts"] == 3
    assert "flaky" in out["first"]["error"] and out["first"]["delay"] == 0.01
    assert "Retry failed after 2 attempts" in out["err"] and "down" in out["err"]


async def test_sleep_stops_at_the_runs_time_limit() -> None:
    result, _ = await run(procedure("    Sleep(60)"), config=RuntimeConfig(timeout_s=0.3))
    assert result.status == "failed" and result.error is not None
    assert result.error.kind == "timeout"
    result, _ = await run(procedure("    Sleep(0.01) return { ok = true }"))
    assert result.output == {"ok": True}
    result, _ = await run(procedure('    Sleep("x")'))
    assert result.error is not None and "Sleep expects a number" in result.error.message


async def test_sleep_is_cancelled_at_once() -> None:
    async with Runtime() as runtime:
        run_ = runtime.create_run(source(procedure("    Sleep(60)")), mock=True)
        async with anyio.create_task_group() as group:
            started = time.monotonic()
            group.start_soon(run_.execute)
            await anyio.sleep(0.3)
            run_.cancel()
    assert time.monotonic() - started < 10


async def test_python_iter_iterates_lists_and_keys() -> None:
    result, _ = await run(
        procedure("""
    local items, keys = {}, {}
    for v in python.iter({"a", "b", "c"}) do items[#items + 1] = v end
    for k in python.iter({x = 1}) do keys[#keys + 1] = k end
    local ok, err = pcall(function() return python.eval end)
    return { items = items, keys = keys, err = err }""")
    )
    assert result.output["items"] == ["a", "b", "c"] and result.output["keys"] == ["x"]
    assert "python.eval is not available" in result.output["err"]


def test_validate_knows_the_new_globals() -> None:
    text = procedure("""
    Sleep(0) Stop.request("x") Iterations.increment() System.alert{message = "m"}
    Retry.with_backoff(function() end) File.exists("a") MessageHistory.get()
    for x in python.iter({}) do end
    return { t = os.time() }""")
    report = validate_source(source(text))
    assert report.ok, [str(d) for d in report.diagnostics]
    report = validate_source(source(procedure("    Slep(1)")))
    (problem,) = report.diagnostics
    assert problem.message == "'Slep' is called but never defined" and problem.line == 3


async def test_errors_name_the_callers_line() -> None:
    for call in ("Sleep(-1 / 0 * 0)", 'Stop.request(); File.read("x")', "Iterations.exceeded()"):
        result, _ = await run(procedure(f"    {call}\n    return {{}}"))
        assert result.error is not None and result.error.line == 3, (call, result.error)
