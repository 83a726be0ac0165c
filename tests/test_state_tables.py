"""Tables kept in State stay the same Lua tables: changed in place, State holds the change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtime.api import Runtime
from runtime.handlers import MemoryHandler
from runtime.models.base import ModelRequest, TextDelta, ToolCallRequest
from runtime.models.function import FunctionModel
from runtime.store import SQLiteStore
from tests.durable.test_journal import crash_after
from tests.helpers import run

pytestmark = pytest.mark.anyio


async def test_a_table_read_from_state_is_the_one_state_holds() -> None:
    text = """
Procedure {
  function(input)
    state.trace = state.trace or {}
    table.insert(state.trace, "start")
    local same = state.trace
    same[#same + 1] = "middle"
    local counts = State.get("counts") or {}
    State.set("counts", counts)
    counts.seen = 2
    table.insert(State.get("trace"), "end")
    return { trace = state.trace, n = #state.trace, same = state.trace == same }
  end
}
"""
    result, _ = await run(text)
    assert result.status == "completed", result.error
    assert result.output == {"trace": ["start", "middle", "end"], "n": 3, "same": True}
    assert result.state == {"trace": ["start", "middle", "end"], "counts": {"seen": 2}}


async def test_setting_or_clearing_a_key_lets_go_of_its_old_table() -> None:
    text = """
Procedure {
  function(input)
    state.items = { 1 }
    local old = state.items
    state.items = { 9 }
    table.insert(old, 2)
    state.gone = { "x" }
    local cleared = state.gone
    State.clear()
    table.insert(cleared, "y")
    state.n = 1
    local a = state.items == nil
    return { a = a }
  end
}
"""
    result, _ = await run(text)
    assert result.status == "completed", result.error
    assert result.state == {"n": 1}


async def test_a_failed_run_reports_the_state_its_tables_reached() -> None:
    text = """
Procedure {
  function(input)
    state.steps = {}
    table.insert(state.steps, "one")
    error("stopped here")
  end
}
"""
    result, _ = await run(text)
    assert result.status == "failed"
    assert result.state == {"steps": ["one"]}


TALLY = """
tally = Tool {
  description = "Count a word",
  input = { word = field.string{ required = true } },
  function(args)
    state.words = state.words or {}
    table.insert(state.words, args.word)
    return #state.words
  end
}
counter = Agent { model = "m/counter", system_prompt = "Words so far: {state.words}", tools = { tally } }
Procedure {
  function(input)
    counter("count apples")
    counter("count pears")
    return { words = state.words }
  end
}
"""


def counting(request: ModelRequest) -> list[object]:
    if request.round == 1:
        word = "apples" if "apples" in request.messages[-1]["content"] else "pears"
        return [ToolCallRequest(f"c{request.turn}", "tally", {"word": word})]
    return [TextDelta(f"counted ({request.messages[0]['content']})")]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore.for_workspace(tmp_path) as opened:
        yield opened


@pytest.mark.parametrize("kept", [2, 3, 4])
async def test_a_tool_that_changes_a_state_table_in_place_is_journaled(
    tmp_path: Path, store: SQLiteStore, kept: int
) -> None:
    path = tmp_path / "tally.tac"
    path.write_text(TALLY)
    first = FunctionModel(counting)
    async with Runtime(store=store) as runtime:
        result = await runtime.run(path, models={"m/counter": first}, handlers=[MemoryHandler()])
    await store.flush()
    assert result.ok, result.error
    assert result.output == {"words": ["apples", "pears"]}
    # The second turn's prompt saw the first tool's change.
    assert first.requests[-1].messages[0]["content"] == 'Words so far: ["apples"]'
    crash_after(store.path, result.run_id, kept, 0)
    async with Runtime(store=store) as runtime:
        resumed = await runtime.resume(result.run_id, models={"m/counter": FunctionModel(counting)})
    assert resumed.ok, resumed.error
    assert resumed.output == result.output
    assert resumed.state == result.state
