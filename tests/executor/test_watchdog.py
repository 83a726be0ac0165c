"""The in-process run's watchdog: the process exits, saying why, when a run overstays its time
or makes the process hold more than its memory limit allows."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from runtime.executor.watchdog import MEMORY_OVERHEAD

MIB = 1024 * 1024


def _child(body: str) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(
        """
        import time
        from runtime.events import RunStartedEvent
        from runtime.executor.watchdog import Watchdog

        watchdog = Watchdog(60.0, 10.0, max_memory=16 * 1024 * 1024, calls_models=False)
        watchdog.log(RunStartedEvent(run_id="r", seq=1, procedure="p.tac"))
        """
    ) + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_a_process_holding_more_than_the_run_allows_stops_saying_so() -> None:
    size = MEMORY_OVERHEAD + 64 * MIB
    done = _child(
        f"""
        held = b"x" * {size}
        time.sleep(10)
        print("still here")
        """
    )
    assert done.returncode == 1, done.stderr
    assert "ran out of memory" in done.stderr
    assert "still here" not in done.stdout


def test_a_run_within_its_memory_is_left_alone() -> None:
    done = _child(
        """
        held = b"x" * (8 * 1024 * 1024)
        time.sleep(0.3)
        watchdog.disarm()
        print("finished")
        """
    )
    assert done.returncode == 0, done.stderr
    assert "finished" in done.stdout
