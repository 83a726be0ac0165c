"""SIGKILL at random moments of a run with several agent calls, tool calls (from an agent and
from Lua) and a sub-procedure: each time, resuming completes it with exactly the output of an
uninterrupted run, and the model server saw every call of that run once, plus at most
the one call in flight at each kill."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
TIDE = Path(sys.executable).parent / "tide"

PROCEDURE = """
planner = Agent { model = "openai/planner", api_base = "URL", system_prompt = "You plan.",
                  tools = { "add", "done" } }
writer = Agent { model = "openai/writer", api_base = "URL", system_prompt = "You write." }

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

Procedure {
  function(input)
    Log.info("starting")
    local plan = planner("Plan a note about tides")
    local direct = add({ a = 40, b = 2 })
    local draft = writer("Draft a note with " .. tostring(direct.sum) .. " lines")
    local s = summarize({ text = draft.output })
    local final = writer("Finish: " .. s.summary)
    return { plan = plan.output, total = direct.sum, draft = draft.output,
             summary = s.summary, final = final.output, adds = State.get("adds") }
  end
}
"""

# The planner calls `add` and `done` in one reply: its turn is one model call whatever happens.
SCRIPT = {
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


@pytest.fixture
def model_server(tmp_path: Path) -> Iterator[str]:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    server = subprocess.Popen(
        [str(TIDE), "model-server", "--port", "0", "--rate", "400", "--script", str(script)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TIDE_WORKER": "off"},
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        yield line.rsplit(" ", 1)[-1].strip().removesuffix("/v1")
    finally:
        server.terminate()
        server.wait(10)


def requests_made(url: str) -> list[str]:
    records = httpx.get(f"{url}/_tide/requests", timeout=10).json()
    return [json.dumps([r["model"], r["messages"]], sort_keys=True) for r in records]


CHAINS = 4
KILLS_PER_CHAIN = 7


@pytest.mark.timeout(600)
def test_sigkill_anywhere_then_resume(tmp_path: Path, model_server: str) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "workflow.tac").write_text(PROCEDURE.replace("URL", f"{model_server}/v1"))
    env = {**os.environ, "OPENAI_API_KEY": "sk-scripted", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    args = [str(workspace), "7", str(CHAINS), str(KILLS_PER_CHAIN)]
    done = subprocess.run(
        [sys.executable, "-m", "tests.durable.kill_harness", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    reference = report["reference"]
    assert reference["status"] == "completed", reference
    assert reference["output"]["adds"] == 2
    for final in report["finals"]:
        assert final["status"] == "completed", (final, done.stderr[-3000:])
        assert final["output"] == reference["output"]
    assert report["hits"] >= 20, report

    made = requests_made(model_server)
    first = made[:4]  # the uninterrupted run: planner, writer three times (one in summarize)
    assert len(first) == len(set(first)) == 4
    chains = Counter(made[4:])
    assert set(chains) == set(first)
    # A call is made again only when a kill caught it in flight: at most once per kill.
    repeated = sum(chains.values()) - CHAINS * len(first)
    assert 0 <= repeated <= report["hits"], (chains, report)
    print(f"{report['hits']} kills in {report['attempts']} attempts, {repeated} calls repeated")
