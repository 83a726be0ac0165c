"""Procedure.run: another file of the project, run within the calling run."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime import RuntimeConfig
from runtime.source import ProcedureSource
from tests.helpers import of_type, run

pytestmark = pytest.mark.anyio

CHILD = """
summarizer = Agent { model = "openai/gpt-4o-mini", system_prompt = "Summarize." }
Mocks { summarizer = { message = "short" } }
Procedure {
  input = { text = field.string{ required = true } },
  output = { summary = field.string{ required = true }, length = field.integer{} },
  function(input)
    local r = summarizer(input.text)
    return { summary = r.output, length = #input.text }
  end
}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


async def test_runs_another_file_and_shows_its_agents(tmp_path: Path) -> None:
    write(tmp_path, "helpers/summarize.tac", CHILD)
    main = write(
        tmp_path,
        "main.tac",
        """
local_helper = Procedure "local_helper" {
  input = { n = field.number{} },
  function(input) return { doubled = input.n * 2 } end
}
Procedure {
  function(input)
    local a = Procedure.run("helpers/summarize.tac", { text = "a long text" })
    local b = Procedure.run("./helpers/summarize", { text = "xy" })
    local c = Procedure.run("local_helper", { n = 4 })
    return { a = a, b = b.length, c = c.doubled }
  end
}
""",
    )
    result, events = await run(ProcedureSource.from_path(main))
    assert result.status == "completed", result.error
    assert result.output == {"a": {"summary": "short", "length": 11}, "b": 2, "c": 8}
    turns = [e for e in of_type(events, "agent_turn") if e.stage == "completed"]
    assert [t.agent for t in turns] == ["summarizer", "summarizer"]
    assert result.totals.agent_turns == 2


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ('Procedure.run("../outside.tac", {})', "inside the project folder only"),
        ('Procedure.run("/etc/x.tac", {})', "inside the project folder only"),
        ('Procedure.run("nothing.tac", {})', "no procedure file 'nothing.tac'"),
        ('Procedure.run("child.tac", {})', "text: Field required"),
        ('Procedure.run("bad.tac", {})', "Procedure.run('bad.tac') failed: boom"),
        ('Procedure.run("main.tac", {})', "nested more than 8 deep"),
    ],
)
async def test_mistakes_are_reported_where_the_call_is(
    tmp_path: Path, call: str, message: str
) -> None:
    write(tmp_path, "child.tac", CHILD)
    write(tmp_path, "bad.tac", 'Procedure { function() error("boom") end }')
    main = write(
        tmp_path, "main.tac", f"Procedure {{\n  function(input)\n    local r = {call}\n  end\n}}\n"
    )
    result, _ = await run(ProcedureSource.from_path(main), config=RuntimeConfig(timeout_s=30))
    assert result.status == "failed"
    assert result.error is not None and message in result.error.message, result.error
    assert result.error.line == 3
