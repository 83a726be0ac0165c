"""The in-process run's watchdog: the process exits, saying why, when a run overstays its time
or makes the process hold more than its memory limit allows."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from runtime.errors import TOP_LEVEL_HINT
from runtime.executor.watchdog import MEMORY_OVERHEAD

MIB = 1024 * 1024


_FOLLOWING = """
    watchdog = Watchdog(60.0, 10.0, max_memory=16 * 1024 * 1024, calls_models=False)
    watchdog.log(RunStartedEvent(run_id="r", seq=1, procedure="p.tac"))
"""


def _child(body: str, start: str = _FOLLOWING) -> subprocess.CompletedProcess[str]:
    code = (
        textwrap.dedent(
            """
            import time
            from runtime.events import RunStartedEvent
            from runtime.executor.watchdog import Watchdog
            """
        )
        + textwrap.dedent(start)
        + textwrap.dedent(body)
    )
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


_HOG = f"""
held = b"x" * {MEMORY_OVERHEAD + 64 * MIB}
time.sleep(10)
print("still here")
"""


def test_a_run_that_gives_its_watchdog_no_events_is_held_to_its_memory_too() -> None:
    # `tide run -q --no-store`: no handler, so no run_started reaches the watchdog.
    done = _child(
        _HOG,
        start="""
        watchdog = Watchdog(
            60.0, 10.0, follows=False, max_memory=16 * 1024 * 1024, calls_models=False
        )
        """,
    )
    assert done.returncode == 1, done.stderr
    assert "ran out of memory" in done.stderr
    assert "still here" not in done.stdout


def test_a_resumed_run_started_again_keeps_its_memory_watched() -> None:
    again = 'watchdog.log(RunStartedEvent(run_id="r", seq=9, procedure="p.tac", resumed=True))'
    done = _child(again + _HOG)
    assert done.returncode == 1, done.stderr
    assert "ran out of memory" in done.stderr


def test_a_procedure_stuck_before_its_run_starts_is_stopped_after_its_timeout() -> None:
    # Its top level stuck in C (no run_started ever comes), a mocked run: what the procedure
    # may take to read (its timeout), what starting may take, and the grace; not a minute.
    done = _child(
        """
        time.sleep(60)
        print("still here")
        """,
        start="""
        watchdog = Watchdog(1.0, 10.0, calls_models=False)
        """,
    )
    assert done.returncode == 1, done.stderr
    assert "top level ran out of time" in done.stderr
    assert TOP_LEVEL_HINT in done.stderr
    assert "still here" not in done.stdout


def test_a_run_stuck_after_it_started_is_stopped_saying_its_timeout_applies() -> None:
    done = _child(
        """
        time.sleep(60)
        """,
        start="""
        watchdog = Watchdog(0.5, 10.0, grace_s=0.2, calls_models=False)
        watchdog.log(RunStartedEvent(run_id="r", seq=1, procedure="p.tac"))
        """,
    )
    assert done.returncode == 1, done.stderr
    assert "the procedure ran out of time" in done.stderr and "--timeout" in done.stderr
