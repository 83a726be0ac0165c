"""Real `tide` processes for the durable-run tests: a scripted model server whose request log
outlives the processes that call it, a warm worker whose children run `tide run` and
`tide runs resume`, and a workspace's store read while they write it."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

TIDE = Path(sys.executable).with_name("tide")


def tide_environment(**extra: str) -> dict[str, str]:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "OPENAI_API_KEY": "sk-scripted"}
    env.pop("TIDE_MODEL", None)
    return {**env, **extra}


class ModelServer:
    """``tide model-server`` in a process of its own: its request log keeps every call made by
    the processes the tests kill."""

    def __init__(self, directory: Path, script: dict[str, Any], rate: float) -> None:
        path = directory / "script.json"
        path.write_text(json.dumps(script))
        self.process = subprocess.Popen(
            [str(TIDE), "model-server", "--port", "0", "--rate", str(rate), "--script", str(path)],
            stdout=subprocess.PIPE,
            text=True,
            env=tide_environment(TIDE_WORKER="off"),
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        found = re.search(r"http://\S+/v1", line)
        assert found, line
        self.api_base = found.group()

    def calls(self) -> list[str]:
        """Every request received so far, in order, as the model and messages it sent."""
        url = self.api_base.removesuffix("/v1") + "/_tide/requests"
        records = httpx.get(url, timeout=30).json()
        return [json.dumps([r["model"], r["messages"]], sort_keys=True) for r in records]

    def use(self, script: dict[str, Any]) -> None:
        """Answer from now on as ``script`` says."""
        url = self.api_base.removesuffix("/v1") + "/_tide/script"
        httpx.post(url, json=script, timeout=30).raise_for_status()

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(30)


@contextmanager
def model_server(directory: Path, script: dict[str, Any], rate: float) -> Iterator[ModelServer]:
    server = ModelServer(directory, script, rate)
    try:
        yield server
    finally:
        server.close()


class Worker:
    """A warm worker (``tide worker start``) in a directory of its own: the commands of the tests
    that use its environment run in children forked from it, which start in a fraction of the
    seconds a cold process needs to import the model libraries."""

    def __init__(self, sockets: Path) -> None:
        sockets.mkdir(mode=0o700, exist_ok=True)
        self.env = tide_environment(TIDE_WORKER="on", TIDE_WORKER_DIR=str(sockets))
        started = self.tide("worker", "start", "--idle-exit", "15")
        found = re.search(r"pid (\d+)", started.stdout)
        assert started.returncode == 0 and found, started.stdout + started.stderr
        self.pid = int(found.group(1))

    def tide(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """``tide ARGS`` with no terminal (stdin is /dev/null), run by the worker if it serves
        the command."""
        return subprocess.run(
            [str(TIDE), *args],
            cwd=cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def children(self) -> list[int]:
        """The worker's children: one per command it is running."""
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def stop(self) -> None:
        self.tide("worker", "stop")
        deadline = time.monotonic() + 30
        while Path(f"/proc/{self.pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if Path(f"/proc/{self.pid}").exists():
            os.kill(self.pid, signal.SIGKILL)


class Ide:
    """``tide ide`` in a session of its own: a kill ends it with every process it started, as a
    crash of its machine would."""

    def __init__(self, workspace: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [str(TIDE), "ide", "--workspace", str(workspace), "--port", "0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=tide_environment(TIDE_WORKER="off"),
            start_new_session=True,
        )
        assert self.process.stdout is not None
        lines = [self.process.stdout.readline() for _ in range(2)]
        found = re.search(r"http://\S+", "".join(lines))
        assert found, lines
        self.url = found.group()

    def get(self, path: str) -> Any:
        return httpx.get(self.url + path, timeout=30).json()

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return httpx.post(self.url + path, json=body, timeout=30)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


# What tells apart the events a run stores once each (not streamed chunks and costs: the call
# in flight at a kill streams again and is counted twice; nor the events that mark where an
# attempt stopped and the next one began).
EVENT_IDENTITY = {
    "agent_turn": ("agent", "turn", "stage"),
    "tool_call": ("call_id", "stage"),
    "log": ("message", "source"),
    "human_request": ("request_id",),
    "human_response": ("request_id",),
    "run_completed": (),
}


class StoreProbe:
    """A workspace's ``.tide/runs.db``, read (never written) while other processes write it."""

    def __init__(self, workspace: Path) -> None:
        self.path = workspace / ".tide" / "runs.db"
        self._db: sqlite3.Connection | None = None

    def rows(self, sql: str, *args: Any) -> list[Any]:
        if self._db is None:
            if not self.path.exists():
                return []
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # created but without its tables yet
            return []

    def _query(self, sql: str, *args: Any) -> Any:
        rows = self.rows(sql, *args)
        return rows[0][0] if rows else None

    def run_ids(self) -> list[str]:
        return [str(row[0]) for row in self.rows("SELECT id FROM runs ORDER BY created_at")]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    def progress(self, run_id: str) -> Progress:
        entries = self._query("SELECT COUNT(*) FROM journal WHERE run_id = ?", run_id) or 0
        last = self._query("SELECT MAX(seq) FROM events WHERE run_id = ?", run_id) or 0
        return Progress(int(entries), int(last))

    def events_twice(self, run_id: str) -> list[str]:
        """The run's events stored more than once (a turn's start or end, a tool call's, a log,
        a question or its answer, the run's completion), and a gap in its sequence."""
        rows = self.rows("SELECT seq, type, data FROM events WHERE run_id = ? ORDER BY seq", run_id)
        seen: set[str] = set()
        twice: list[str] = []
        for number, (seq, kind, data) in enumerate(rows, start=1):
            if seq != number:
                twice.append(f"event {number} is missing")
                break
            names = EVENT_IDENTITY.get(kind)
            if names is None:
                continue
            fields = json.loads(data)
            identity = json.dumps([kind, *(fields.get(name) for name in names)])
            if identity in seen:
                twice.append(identity)
            seen.add(identity)
        return twice

    def status(self, run_id: str) -> str | None:
        status = self._query("SELECT status FROM runs WHERE id = ?", run_id)
        return None if status is None else str(status)

    def output(self, run_id: str) -> Any:
        return json.loads(self._query("SELECT output FROM runs WHERE id = ?", run_id) or "null")

    def entry_seq(self, run_id: str, number: int) -> int:
        """The event sequence number at which the run's ``number``-th journal entry was written."""
        sql = "SELECT seq FROM journal WHERE run_id = ? ORDER BY seq, position LIMIT 1 OFFSET ?"
        return int(self._query(sql, run_id, number - 1) or 0)

    def chunks_after(self, run_id: str, seq: int) -> int:
        sql = (
            "SELECT COUNT(*) FROM events WHERE run_id = ? AND seq > ? "
            "AND type = 'agent_stream_chunk'"
        )
        return int(self._query(sql, run_id, seq) or 0)


@dataclass(frozen=True, order=True)
class Progress:
    """How far a stored run is: its journal entries, its last stored event."""

    entries: int
    last_seq: int


@dataclass(frozen=True)
class KillPoint:
    """Where to kill a run: once its journal holds ``entries`` effects (counting the run's own
    entry), and, with ``chunks``, once that many chunks of the call that follows are stored."""

    entries: int
    chunks: int = 0

    def reached(self, probe: StoreProbe, run_id: str, start: Progress) -> bool:
        """Whether the attempt that began at ``start`` has come to the point. Every kill needs
        something done by the attempt it stops, so that no two kills hit the same point and a
        kill never lands before the run is under way."""
        if not self.chunks:
            return probe.progress(run_id).entries >= max(self.entries, start.entries + 1)
        if probe.progress(run_id).entries < self.entries:
            return False
        after = max(probe.entry_seq(run_id, self.entries), start.last_seq)
        return probe.chunks_after(run_id, after) >= self.chunks


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def check_calls(reference: list[str], attempts: list[list[str]]) -> int:
    """The model calls of an interrupted and resumed run, attempt by attempt, against those of
    an uninterrupted run: every call made once, but the one in flight at a kill, which the next
    attempt makes again first. Returns how many calls were made again."""
    made = [call for attempt in attempts for call in attempt]
    once = [call for index, call in enumerate(made) if index == 0 or call != made[index - 1]]
    differ = next(
        (n for n, (a, b) in enumerate(zip(once, reference, strict=False)) if a != b),
        min(len(once), len(reference)),
    )
    assert once == reference, (
        f"the resumed run made {len(made)} calls, {len(once)} but repeats in a row, where an "
        f"uninterrupted run made {len(reference)}; they differ from call {differ} on"
    )
    before: list[str] = []
    for number, attempt in enumerate(attempts):
        for index, call in enumerate(attempt):
            if call in before:
                assert index == 0 and call == before[-1], (
                    f"attempt {number} made call {index} again, which was not the call in flight"
                )
        before.extend(attempt)
    return len(made) - len(reference)
