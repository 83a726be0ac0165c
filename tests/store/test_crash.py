"""Killing a process mid-run keeps every event written before the kill: the store's crash
window is the last batch (50 ms or 256 events)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from runtime.store.sqlite import SQLiteStore
from runtime.store.writer import DEFAULT_MAX_DELAY_S

ROOT = Path(__file__).resolve().parents[2]
# Scheduling slack on a busy machine, on top of the store's own 50 ms.
SLACK_S = 0.25


@pytest.mark.timeout(120)
def test_sigkill_mid_run_keeps_everything_before_the_last_batch(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.store.crash_child", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    handed: list[tuple[int, float]] = []
    try:
        assert child.stdout is not None
        for line in child.stdout:
            seq, moment = line.split()
            handed.append((int(seq), float(moment)))
            # Well into the stream (about 1 s of a 12 s answer), past several batches.
            if int(seq) >= 600:
                break
        else:
            pytest.fail(f"the child ended early: {child.stderr.read() if child.stderr else ''}")
        killed_at = time.monotonic()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL

    with sqlite3.connect(tmp_path / ".tide" / "runs.db") as conn:
        seqs = [row[0] for row in conn.execute("SELECT seq FROM events ORDER BY seq")]
        run = conn.execute("SELECT status, model FROM runs").fetchall()
        chunks = [
            json.loads(row[0])
            for row in conn.execute(
                "SELECT data FROM events WHERE type = 'agent_stream_chunk' ORDER BY seq"
            )
        ]
    must_have = max(seq for seq, at in handed if at <= killed_at - DEFAULT_MAX_DELAY_S - SLACK_S)
    assert seqs == list(range(1, len(seqs) + 1)), "events are in order, without gaps"
    assert len(seqs) >= must_have
    assert len(seqs) <= max(seq for seq, _ in handed)
    assert run == [("running", "scripted/x")]
    # The chunks kept are a contiguous prefix of the answer.
    offset = 0
    for _agent, _turn, chunk_offset, text in chunks:
        assert chunk_offset == offset
        offset += len(text)
    assert offset > 0

    # The next process to open the store finds the run's owner gone and ends the run, so that
    # no reader waits on it; what was kept stays readable.
    store = SQLiteStore.for_workspace(tmp_path)
    try:
        with closing(sqlite3.connect(store.path)) as conn:
            conn.row_factory = sqlite3.Row
            (record,) = store.list_runs_sync(conn)
        assert record.status == "failed"
        assert record.error is not None and record.error.kind == "interrupted"
        assert record.finished_at is not None
        # As complete as a failed run's record: how long it ran, and the text it streamed.
        assert record.totals.duration_ms > 0
        assert record.partial_text is not None and len(record.partial_text) == offset
        assert store.reap_abandoned_sync() == []
    finally:
        store.close()
    with sqlite3.connect(tmp_path / ".tide" / "runs.db") as conn:
        rows = conn.execute("SELECT seq, type FROM events ORDER BY seq").fetchall()
    # What was kept, then the run's end, written when its owner was found gone.
    assert [seq for seq, _ in rows] == [*seqs, len(seqs) + 1]
    assert rows[-1][1] == "run_failed"
