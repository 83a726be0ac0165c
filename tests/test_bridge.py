"""The bridge between a run's Lua thread and the event loop: async work awaited from the Lua
thread, Lua work run on that thread while it waits, errors both ways, and stopping."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import anyio.to_thread
import pytest

from runtime.bridge import LuaThreadBridge

pytestmark = pytest.mark.anyio


class Stopped(Exception):
    pass


class Run:
    """The part of a run the bridge sees: a flag that ``check`` turns into an exception."""

    def __init__(self) -> None:
        self.stopped = False

    def check(self) -> None:
        if self.stopped:
            raise Stopped("the run was stopped")


async def on_lua_thread(function: Any) -> Any:
    return await anyio.to_thread.run_sync(function)


async def test_the_lua_thread_awaits_async_work_and_serves_lua_jobs_meanwhile() -> None:
    run = Run()
    threads: dict[str, int] = {}
    async with anyio.create_task_group() as group:
        bridge = LuaThreadBridge(group, run.check)

        def lua_function(x: int) -> int:
            threads["job"] = threading.get_ident()
            return x * 2

        async def turn(x: int) -> int:
            # A tool call from the agent's turn: back to the Lua thread, which is waiting.
            doubled = await bridge.run_in_lua_thread(lua_function, x)
            return doubled + 1

        def lua_main() -> int:
            threads["lua"] = threading.get_ident()
            return bridge.wait_for(turn, 20)

        assert await on_lua_thread(lua_main) == 41
    assert threads["job"] == threads["lua"] != threading.get_ident()


async def test_errors_cross_the_bridge_both_ways() -> None:
    run = Run()
    async with anyio.create_task_group() as group:
        bridge = LuaThreadBridge(group, run.check)

        def failing_lua() -> None:
            raise KeyError("from Lua")

        async def turn() -> str:
            with pytest.raises(KeyError, match="from Lua"):
                await bridge.run_in_lua_thread(failing_lua)
            raise ValueError("from the turn")

        def lua_main() -> None:
            bridge.wait_for(turn)

        with pytest.raises(ValueError, match="from the turn"):
            await on_lua_thread(lua_main)


async def test_waking_a_stopped_run_unwinds_the_lua_thread() -> None:
    run = Run()
    async with anyio.create_task_group() as group:
        bridge = LuaThreadBridge(group, run.check)
        never = anyio.Event()

        async def endless_turn() -> None:
            await never.wait()

        def lua_main() -> None:
            bridge.wait_for(endless_turn)

        async def stop_soon() -> None:
            await anyio.sleep(0.05)
            bridge.wake()  # not stopped: the Lua thread checks and waits on
            await anyio.sleep(0.05)
            run.stopped = True
            bridge.wake()

        group.start_soon(stop_soon)
        with pytest.raises(Stopped):
            await on_lua_thread(lua_main)
        group.cancel_scope.cancel()
