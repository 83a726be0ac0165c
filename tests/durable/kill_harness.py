"""Run by test_kill: one uninterrupted run of a procedure, then the same run killed with SIGKILL
at random moments and resumed after each kill, until it completes.

Each run or resume happens in a child forked from this process, which has loaded the model
libraries once (forked before any thread or event loop exists), so a child starts in a
fraction of a second. Prints one JSON line: the reference output, the resumed output, and
how many kills hit a running child.

    python -m tests.durable.kill_harness WORKSPACE SEED CHAINS KILLS_PER_CHAIN
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import anyio

from runtime.api import Runtime
from runtime.resume import NotResumable, UnknownRun
from runtime.store import SQLiteStore


def child(workspace: Path, action: str, run_id: str, out: Path) -> None:
    async def main() -> dict[str, Any]:
        store = SQLiteStore.for_workspace(workspace)
        try:
            async with Runtime(store=store) as runtime:
                if action == "run":
                    result = await runtime.run(workspace / "workflow.tac", run_id=run_id)
                else:
                    try:
                        result = await runtime.resume(run_id)
                    except (UnknownRun, NotResumable) as exc:
                        # Killed before the run's start was on disk: nothing to resume.
                        return {"status": "unresumable", "error": str(exc)}
        finally:
            await store.aclose()
        return {"status": result.status, "output": result.output, "error": str(result.error)}

    outcome = anyio.run(main)
    out.write_text(json.dumps(outcome))


def fork(workspace: Path, action: str, run_id: str, out: Path) -> int:
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            child(workspace, action, run_id, out)
        except BaseException as exc:  # reported through the missing result
            sys.stderr.write(f"child failed: {type(exc).__name__}: {exc}\n")
            code = 1
        finally:
            os._exit(code)
    return pid


def main() -> None:
    workspace = Path(sys.argv[1])
    rng = random.Random(int(sys.argv[2]))
    chains = int(sys.argv[3])
    kills = int(sys.argv[4])
    from runtime.models._dspy import ensure_configured

    ensure_configured()

    reference_out = workspace / "reference.json"
    started = time.monotonic()
    os.waitpid(fork(workspace, "run", "reference", reference_out), 0)
    reference = json.loads(reference_out.read_text())
    duration = time.monotonic() - started

    finals: list[dict[str, Any]] = []
    hits = attempts = 0
    for chain in range(chains):
        final, chain_hits, chain_attempts = kill_chain(workspace, f"c{chain}", rng, kills, duration)
        finals.append(final)
        hits += chain_hits
        attempts += chain_attempts
    print(
        json.dumps({"reference": reference, "finals": finals, "hits": hits, "attempts": attempts})
    )


def kill_chain(
    workspace: Path, name: str, rng: random.Random, kills: int, duration: float
) -> tuple[dict[str, Any], int, int]:
    """Run, kill at a random moment, resume, kill… ``kills`` times; then resume to the end."""
    hits = attempt = 0
    action = "run"
    run_id = f"{name}-0"
    final: dict[str, Any] | None = None
    while final is None:
        out = workspace / f"{name}-attempt{attempt}.json"
        pid = fork(workspace, action, run_id, out)
        if attempt < kills:
            time.sleep(rng.uniform(0.0, duration * 0.7))
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                hits += 1
        else:
            os.waitpid(pid, 0)
        attempt += 1
        action = "resume"
        if out.exists():
            final = json.loads(out.read_text())
            if final["status"] == "unresumable":
                final, action, run_id = None, "run", f"{name}-{attempt}"
    return final, hits, attempt


if __name__ == "__main__":
    main()
