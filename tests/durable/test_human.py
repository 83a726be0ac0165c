"""Questions to a person in durable runs: waiting, answers, timeouts, and what is refused."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from runtime.api import Runtime
from runtime.journal import DivergedError
from runtime.models.base import ModelRequest
from runtime.models.function import FunctionModel
from runtime.resume import NotResumable
from runtime.store import SQLiteStore
from runtime.store.journal import RequestMismatch
from tests.durable.procedures import WORKFLOW, workflow_answer
from tests.durable.processes import Worker
from tests.durable.test_journal import crash_after, models

pytestmark = pytest.mark.anyio

ASK = """
writer = Agent { model = "m/writer", system_prompt = "You write." }
Procedure {
  function(input)
    local a = writer("Say hello")
    local ok = Human.approve({ message = "Publish it?", default = false, timeout = TIMEOUT })
    local name = Human.input({ message = "Your name?" })
    local b = writer("Say bye to " .. name)
    return { ok = ok, name = name, text = a.output .. " / " .. b.output }
  end
}
"""


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore.for_workspace(tmp_path) as opened:
        yield opened


def echo(delay: float = 0.0) -> FunctionModel:
    async def answer(request: ModelRequest) -> str:
        await anyio.sleep(delay)
        return "Echo: " + str(request.messages[-1]["content"])

    return FunctionModel(answer)


async def test_a_run_waits_then_is_answered_twice(tmp_path: Path, store: SQLiteStore) -> None:
    path = tmp_path / "ask.tac"
    path.write_text(ASK.replace("TIMEOUT", "3600"))
    model = echo(delay=0.5)
    async with Runtime(store=store) as runtime:
        first = await runtime.run(path, models={"m/writer": model})
        assert first.status == "waiting"
        [request] = first.pending
        assert request["kind"] == "approve" and request["message"] == "Publish it?"
        assert request["default"] is False and request["timeout_s"] == 3600
        await store.flush()
        record = await store.get_run(first.run_id)
        assert record is not None and record.status == "waiting"
        assert record.pending[0]["request_id"] == request["request_id"]

        with pytest.raises(RequestMismatch):
            await runtime.answer(first.run_id, "not-a-request", True, models={"m/writer": model})
        with pytest.raises(NotResumable, match="waiting for a person"):
            await runtime.resume(first.run_id)

        await anyio.sleep(0.3)  # a person takes their time
        second = await runtime.answer(
            first.run_id, request["request_id"], True, models={"m/writer": model}
        )
        assert second.status == "waiting"
        assert second.pending[0]["kind"] == "input"
        await anyio.sleep(0.3)
        # The only pending request is answered when none is named.
        done = await runtime.answer(first.run_id, None, "Ada", models={"m/writer": model})
    assert done.ok, done.error
    assert done.output["ok"] is True and done.output["name"] == "Ada"
    assert [str(r.messages[-1]["content"]) for r in model.requests] == [
        "Say hello",
        "Say bye to Ada",
    ]
    await store.flush()  # the run's end is written by the store's writer a moment later
    events = await store.read_events(first.run_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    responses = [e for e in events if e.type == "human_response"]
    assert [(r.value, r.answered_by) for r in responses] == [(True, "person"), ("Ada", "person")]
    # Its duration is its three attempts', each from its start to its question (the last to
    # its end), not the time it waited for answers.
    starts = [e.ts for e in events if e.type == "run_started"]
    ends = [e.ts for e in events if e.type in ("human_request", "run_completed")]
    assert len(starts) == len(ends) == 3
    ran_ms = sum((end - b).total_seconds() * 1000 for b, end in zip(starts, ends, strict=True))
    assert (ends[0] - starts[0]).total_seconds() >= 0.5  # the first attempt's slow call
    assert done.totals.duration_ms == pytest.approx(ran_ms, abs=250)
    waited_ms = (ends[-1] - starts[0]).total_seconds() * 1000 - ran_ms
    assert waited_ms >= 600


async def test_a_timeout_passed_while_nothing_ran_is_answered_by_its_default(
    tmp_path: Path, store: SQLiteStore
) -> None:
    path = tmp_path / "ask.tac"
    path.write_text(ASK.replace("TIMEOUT", "60").replace('"Your name?"', '"Name?", default = "Bo"'))
    model = echo()
    async with Runtime(store=store) as runtime:
        first = await runtime.run(path, models={"m/writer": model})
    assert first.status == "waiting"
    await store.flush()
    # An hour later, some Tide process opens the store.
    answered = store.expire_requests_sync(now=datetime.now(UTC) + timedelta(hours=1))
    assert answered == [first.run_id]
    record = await store.get_run(first.run_id)
    assert record is not None and record.status == "failed"
    assert record.error is not None and record.error.kind == "interrupted"
    async with Runtime(store=store) as runtime:
        resumed = await runtime.resume(first.run_id, models={"m/writer": model})
        assert resumed.status == "waiting"  # the next question has no timeout
        done = await runtime.answer(first.run_id, None, "Cy", models={"m/writer": model})
    assert done.ok and done.output["ok"] is False and done.output["name"] == "Cy"
    events = await store.read_events(first.run_id)
    by = [e.answered_by for e in events if e.type == "human_response"]
    assert by == ["default", "person"]


async def test_without_a_store_a_question_outside_a_terminal_fails_saying_why(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ask.tac"
    path.write_text(ASK.replace("TIMEOUT", "nil").replace("default = false, ", ""))
    async with Runtime() as runtime:
        result = await runtime.run(path, models={"m/writer": echo()})
    assert result.status == "failed"
    assert result.error is not None
    assert "keeps no store" in result.error.message
    assert result.error.line == 6  # the Human.approve line


async def test_an_edited_procedure_is_not_resumed(tmp_path: Path, store: SQLiteStore) -> None:
    path = tmp_path / "workflow.tac"
    path.write_text(WORKFLOW)
    async with Runtime(store=store) as runtime:
        first = await runtime.run(path, models=models(FunctionModel(workflow_answer)))
    await store.flush()
    crash_after(store.path, first.run_id, 3, 0)
    path.write_text(WORKFLOW.replace('"Plan a note about "', '"Plan an essay about "'))
    async with Runtime(store=store) as runtime:
        with pytest.raises(DivergedError) as caught:
            await runtime.resume(first.run_id, models=models(FunctionModel(workflow_answer)))
    error = caught.value
    assert error.kind == "diverged"
    assert error.file is not None and error.file.endswith("workflow.tac")
    assert (
        error.line
        == WORKFLOW.splitlines().index(
            '    local plan = planner("Plan a note about " .. input.topic)'
        )
        + 1
    )
    assert "Plan an essay" in error.message
    record = await store.get_run(first.run_id)
    assert record is not None and record.status == "failed"  # untouched: restore it to resume


async def test_an_effect_asked_with_other_arguments_stops_the_run(
    tmp_path: Path, store: SQLiteStore
) -> None:
    (tmp_path / "prompts.lua").write_text('return { plan = "Plan a note about " }')
    source = WORKFLOW.replace(
        'planner("Plan a note about " .. input.topic)',
        'planner(require("prompts").plan .. input.topic)',
    )
    path = tmp_path / "workflow.tac"
    path.write_text(source)
    async with Runtime(store=store) as runtime:
        first = await runtime.run(path, models=models(FunctionModel(workflow_answer)))
    assert first.ok, first.error
    await store.flush()
    crash_after(store.path, first.run_id, 3, 0)
    (tmp_path / "prompts.lua").write_text('return { plan = "Plan a poem about " }')
    async with Runtime(store=store) as runtime:
        resumed = await runtime.resume(first.run_id, models=models(FunctionModel(workflow_answer)))
    assert resumed.status == "failed"
    assert resumed.error is not None and resumed.error.kind == "diverged"
    assert resumed.error.file is not None and resumed.error.file.endswith("workflow.tac")
    assert resumed.error.line is not None
    assert "Plan a poem" in resumed.error.message and "Plan a note" in resumed.error.message


def test_tide_run_without_a_terminal_exits_4_and_says_how_to_answer(
    tmp_path: Path, worker: Worker
) -> None:
    (tmp_path / "ask.tac").write_text(
        ASK.replace("TIMEOUT", "3600").replace("m/writer", "scripted/default")
    )
    waiting = worker.tide("run", "ask.tac", cwd=tmp_path)
    assert waiting.returncode == 4, waiting.stderr
    assert "is waiting for a person: Publish it?" in waiting.stderr
    command = next(line for line in waiting.stderr.splitlines() if "tide runs answer" in line)
    run_id = command.split("tide runs answer ")[1].split()[0]
    answered = worker.tide("runs", "answer", run_id, "true", "--quiet", cwd=tmp_path)
    assert answered.returncode == 4, answered.stderr  # the second question
    done = worker.tide("runs", "answer", run_id, "Ada", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"]["name"] == "Ada"
    refused = worker.tide("runs", "resume", run_id, cwd=tmp_path)
    assert refused.returncode == 2
    assert "completed" in refused.stderr and "Traceback" not in refused.stderr


def test_a_timeout_that_passed_while_no_process_ran_is_applied_by_the_next_one(
    tmp_path: Path, worker: Worker
) -> None:
    (tmp_path / "ask.tac").write_text(
        ASK.replace("TIMEOUT", "1").replace("m/writer", "scripted/default")
    )
    waiting = worker.tide("run", "ask.tac", "--json", cwd=tmp_path)
    assert waiting.returncode == 4, waiting.stderr
    run_id = json.loads(waiting.stdout)["run_id"]
    time.sleep(1.5)  # the timeout passes while no Tide process runs
    listed = worker.tide("runs", "--status", "failed", "--json", cwd=tmp_path)
    [record] = json.loads(listed.stdout)
    assert record["id"] == run_id and record["error"]["kind"] == "interrupted"
    resumed = worker.tide("runs", "resume", run_id, "--json", cwd=tmp_path)
    assert resumed.returncode == 4, resumed.stderr  # the next question has no timeout
    done = worker.tide("runs", "answer", run_id, "Cy", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)["output"]
    assert output["ok"] is False and output["name"] == "Cy"
