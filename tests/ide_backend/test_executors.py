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
