"""Predictions are journaled like agent turns: a resumed run does not predict again."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from runtime.api import Runtime
from runtime.handlers import MemoryHandler
from runtime.models.function import FunctionModel
from runtime.store import SQLiteStore
from runtime.store._owners import INTERRUPTED

pytestmark = pytest.mark.anyio

PROCEDURE = """
scorer = Model { type = "mock", value = { score = 1 }, input = { text = "string" } }
labeler = Model { type = "llm", model = "m/labeler", system_prompt = "Label it." }
counter = Tool { description = "count", function(args) state.count = (state.count or 0) + 1; return state.count end }
Procedure {
  function()
    local a = scorer({ text = "first" })
    counter({})
    local b = labeler({ text = "second" })
    counter({})
    return { a = a.score, b = b.output.response, count = state.count }
  end
}
"""


async def test_predictions_are_journaled_and_not_repeated_on_resume(tmp_path: Path) -> None:
    path = tmp_path / "predict.tac"
    path.write_text(PROCEDURE)
    first = FunctionModel(lambda request: "label one")
    async with SQLiteStore.for_workspace(tmp_path) as store:
        async with Runtime(store=store) as runtime:
            result = await runtime.run(
                path, models={"m/labeler": first}, handlers=[MemoryHandler()]
            )
        await store.flush()
        assert result.ok, result.error
        entries = await store.read_journal(result.run_id)
        kinds = [(e.kind, e.name) for e in entries[1:]]
        assert kinds == [
            ("prediction", "scorer"),
            ("tool", "counter"),
            ("prediction", "labeler"),
            ("model", "labeler"),
            ("tool", "counter"),
        ]
        # Crash after the llm prediction: the last tool call is lost.
        with closing(sqlite3.connect(store.path)) as conn, conn:
            conn.execute("DELETE FROM journal WHERE run_id = ? AND position >= 5", (result.run_id,))
            conn.execute(
                "UPDATE runs SET status = 'failed', error = ? WHERE id = ?",
                (f'{{"kind": "{INTERRUPTED}", "message": "stopped"}}', result.run_id),
            )
        again = FunctionModel(lambda request: "label two")
        async with Runtime(store=store) as runtime:
            resumed = await runtime.resume(result.run_id, models={"m/labeler": again})
        await store.flush()
    assert resumed.ok, resumed.error
    assert resumed.output == {"a": 1, "b": "label one", "count": 2}
    assert again.requests == []
