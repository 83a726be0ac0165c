"""The IDE runs every procedure in an executor process by default: new runs, answered and
resumed ones. A run stuck in a call into Lua's C library (which nothing inside a process can
interrupt) is killed, its slot goes to the next run, and the server answers throughout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from runtime.config import RuntimeConfig
from tests.ide_backend.conftest import Ide, IdeFactory

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

# Seconds of backtracking inside string.find, again and again: the instruction hook never fires.
STUCK_IN_C = """
Procedure { function(input)
  local s = string.rep("a", 14000)
  while true do s:find(".-b") end
end }
"""

ASK_THEN_STUCK = """
Procedure { function(input)
  local ok = Human.approve({ message = "Go on?" })
  local s = string.rep("a", 14000)
  while ok do s:find(".-b") end
  return {}
end }
"""

QUICK = "Procedure { function(input) return { done = true } end }\n"


async def wait_for(ide: Ide, run_id: str, *statuses: str, within: float = 60) -> dict[str, Any]:
    with anyio.fail_after(within):
        while True:
            detail: dict[str, Any] = (await ide.client.get(f"/api/runs/{run_id}")).json()
            if detail["status"] in statuses:
                return detail
            await anyio.sleep(0.05)


async def test_executors_are_the_default(ide: Ide) -> None:
    assert ide.services.settings.executors
    assert ide.services.manager.executors is not None


async def test_cancel_frees_the_slot_while_runs_spin_in_c(
    make_ide: IdeFactory, workspace: Path
) -> None:
    (workspace / "stuck.tac").write_text(STUCK_IN_C)
    (workspace / "quick.tac").write_text(QUICK)
    runtime = RuntimeConfig(timeout_s=300)
    async with make_ide(max_concurrent=2, runtime=runtime) as ide:
        spinning = [await ide.start("stuck.tac"), await ide.start("stuck.tac")]
        for run_id in spinning:
            await wait_for(ide, run_id, "running")
        queued = await ide.start("quick.tac")
        assert (await ide.client.get(f"/api/runs/{queued}")).json()["status"] == "queued"
        # Both slots are held by runs stuck in C; the server answers all the same.
        for path in ("/api/files", "/api/runs", f"/api/runs/{spinning[0]}"):
            assert (await ide.client.get(path)).status_code == 200, path

        assert (await ide.client.post(f"/api/runs/{spinning[0]}/cancel")).status_code == 200
        cancelled = await wait_for(ide, spinning[0], "cancelled", "failed")
        assert cancelled["status"] == "cancelled"
        done = await wait_for(ide, queued, "completed", "failed")
        assert done["status"] == "completed" and done["output"] == {"done": True}
        assert (await ide.client.get(f"/api/runs/{spinning[1]}")).json()["status"] == "running"
        await ide.client.post(f"/api/runs/{spinning[1]}/cancel")
        assert (await wait_for(ide, spinning[1], "cancelled", "failed"))["status"] == "cancelled"


async def test_an_answered_run_runs_in_an_executor(make_ide: IdeFactory, workspace: Path) -> None:
    (workspace / "ask.tac").write_text(ASK_THEN_STUCK)
    async with make_ide(runtime=RuntimeConfig(timeout_s=1)) as ide:
        run_id = await ide.start("ask.tac")
        waiting = await wait_for(ide, run_id, "waiting", "failed")
        assert waiting["status"] == "waiting", waiting
        [pending] = waiting["pending"]
        answer = {"request_id": pending["request_id"], "value": True}
        answered = await ide.client.post(f"/api/runs/{run_id}/answer", json=answer)
        assert answered.status_code == 202, answered.text
        # Only a process of its own can stop it: the hook cannot interrupt string.find.
        failed = await wait_for(ide, run_id, "failed", "completed")
        assert failed["error"]["kind"] == "timeout", failed
        assert "process was stopped" in failed["error"]["message"]
        await ide.services.store.flush()
        events = await ide.services.store.read_events(run_id)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        types = [e.type for e in events]
        assert types[-1] == "run_failed" and "human_response" in types


# A call, then a pause long enough to kill its executor in, then another call.
CALL_PAUSE_CALL = """
writer = Agent { model = "scripted/default", system_prompt = "You write." }
Mocks { writer = { message = "Once upon a time." } }
Procedure { function(input)
  local first = writer("Begin").message
  Sleep(3)
  return { text = first .. " " .. writer("Go on").message }
end }
"""


async def test_a_run_whose_executor_died_is_resumed_over_http(
    make_ide: IdeFactory, workspace: Path
) -> None:
    (workspace / "pause.tac").write_text(CALL_PAUSE_CALL)
    async with make_ide() as ide:
        store, executors = ide.services.store, ide.services.manager.executors
        assert executors is not None
        run_id = await ide.start("pause.tac", mock=True)
        with anyio.fail_after(60):
            while not any(e.kind == "model" for e in await store.read_journal(run_id)):
                await anyio.sleep(0.05)
        executors.kill(run_id)  # as the kernel does at its memory limit: from outside
        died = await wait_for(ide, run_id, "failed", "completed")
        assert died["error"]["kind"] == "executor", died
        assert died["resumable"] is True
        listed = (await ide.client.get("/api/runs")).json()["runs"]
        assert [r["resumable"] for r in listed if r["id"] == run_id] == [True]

        resumed = await ide.client.post(f"/api/runs/{run_id}/resume")
        assert resumed.status_code == 202, resumed.text
        assert (await ide.client.get(f"/api/runs/{run_id}")).json()["status"] != "failed"
        done = await wait_for(ide, run_id, "completed", "failed")
        assert done["status"] == "completed", done
        assert done["output"] == {"text": "Once upon a time. Once upon a time."}
        assert done["resumable"] is False
        await store.flush()
        events = await store.read_events(run_id)
        # In order, none twice (what the executor had not stored when it died is not kept).
        seqs = [e.seq for e in events]
        assert seqs == sorted(set(seqs))
        # The first call came from the journal: its turn ran once, in the attempt that died.
        begun = [e for e in events if e.type == "agent_turn" and e.stage == "started"]
        assert len(begun) == 2
        again = await ide.client.post(f"/api/runs/{run_id}/resume")
        assert again.status_code == 409 and again.json()["error"]["code"] == "not_resumable"


async def test_many_runs_of_one_procedure_share_executors(
    make_ide: IdeFactory, workspace: Path
) -> None:
    from runtime.executor.pool import SHARED_FROM

    (workspace / "nap.tac").write_text(
        'Procedure { function(input)\n  Sleep(5)\n  Log.info("woke")\n  return { done = true }\nend }\n'
    )
    count = SHARED_FROM + 8
    async with make_ide(max_concurrent=count, runs_per_executor=4) as ide:
        runs = [await ide.start("nap.tac", mock=True) for _ in range(count)]
        for run_id in runs:
            await wait_for(ide, run_id, "running")
        pool = ide.services.manager.executors
        assert pool is not None
        fork_server = pool.fork_server_pids()[0]
        children = Path(f"/proc/{fork_server}/task/{fork_server}/children").read_text().split()
        # SHARED_FROM runs alone, then the eight others four by four: 10 processes, and room
        # for an executor that has not exited yet (a reading of the file's declarations).
        assert SHARED_FROM + 2 <= len(children) <= SHARED_FROM + 4
        for run_id in runs:
            done = await wait_for(ide, run_id, "completed", "failed")
            assert done["status"] == "completed" and done["output"] == {"done": True}
