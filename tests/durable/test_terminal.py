"""`tide run` at a terminal asks a person inline, and the answer is journaled: a process killed
(SIGKILL) after an answer is resumed by `tide runs resume` without asking it again; one killed
while it asks leaves the question waiting for `tide runs answer`."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import time
from pathlib import Path

from tests.durable.processes import TIDE, ModelServer, StoreProbe, Worker, wait_until

ASK = """
writer = Agent { model = "openai/writer", api_base = "URL", system_prompt = "You write." }
Procedure {
  function(input)
    local ok = Human.approve({ message = "Publish it?" })
    local draft = writer("Draft, approved: " .. tostring(ok)).output
    local name = Human.input({ message = "Your name?" })
    return { ok = ok, name = name, draft = draft, text = writer("Write to " .. name).output }
  end
}
"""
KILLED = 128 + signal.SIGKILL
# The writer's answers take seconds: a kill while one streams lands before the run goes on.
SLOW = {"replies": [{"match": "Draft|Write", "repeat": True, "tokens_per_second": 20}]}


class Terminal:
    """A command at a terminal of its own: what it shows, and what a person types."""

    def __init__(self, cwd: Path, env: dict[str, str], *args: str) -> None:
        self.leader, follower = pty.openpty()
        self.process = subprocess.Popen(
            [str(TIDE), *args],
            cwd=cwd,
            env={**env, "TERM": "xterm"},
            stdin=follower,
            stdout=follower,
            stderr=follower,
            start_new_session=True,
        )
        os.close(follower)
        self.shown = ""

    def _read(self, timeout: float) -> bool:
        """Read what is there; False once the terminal has closed."""
        ready, _, _ = select.select([self.leader], [], [], timeout)
        if ready:
            try:
                data = os.read(self.leader, 65536)
            except OSError:  # the command ended and its terminal closed
                return False
            if not data:
                return False
            self.shown += data.decode(errors="replace")
        return True

    def expect(self, text: str) -> None:
        deadline = time.monotonic() + 120
        while text not in self.shown:
            assert time.monotonic() < deadline, f"{text!r} never shown: {self.shown[-2000:]}"
            assert self._read(0.05), f"ended before showing {text!r}: {self.shown[-2000:]}"

    def type(self, line: str) -> None:
        os.write(self.leader, line.encode() + b"\r")

    def finish(self) -> int:
        deadline = time.monotonic() + 120
        while self._read(0.05) and time.monotonic() < deadline:
            if self.process.poll() is not None and not select.select([self.leader], [], [], 0)[0]:
                break
        os.close(self.leader)
        return self.process.wait(60)


def kill_command(worker: Worker) -> None:
    """SIGKILL the process running the command (a child of the worker)."""
    for child in worker.children():
        os.kill(child, signal.SIGKILL)


def answers(probe: StoreProbe, run_id: str) -> list[object]:
    """The answers the run's journal holds, in order."""
    sql = "SELECT data FROM journal WHERE run_id = ? AND kind = 'human' ORDER BY position"
    return [json.loads(data)["value"] for (data,) in probe.rows(sql, run_id)]


def test_an_answer_at_the_terminal_is_never_asked_again(
    tmp_path: Path, served: ModelServer, worker: Worker
) -> None:
    (tmp_path / "ask.tac").write_text(ASK.replace("URL", served.api_base))
    served.use(SLOW)
    probe = StoreProbe(tmp_path)
    before = len(served.calls())

    def kill_during_call(number: int) -> None:
        """SIGKILL the command while the model answers the run's call ``number``."""
        wait_until(lambda: len(served.calls()) >= before + number, f"call {number}")
        kill_command(worker)

    first = Terminal(tmp_path, worker.env, "run", "ask.tac")
    first.expect("Publish it?")
    first.type("y")
    kill_during_call(1)
    assert first.finish() == KILLED, first.shown
    [run_id] = probe.run_ids()
    assert answers(probe, run_id) == [True]

    second = Terminal(tmp_path, worker.env, "runs", "resume", run_id)
    second.expect("Your name?")
    second.type("Grace")
    kill_during_call(3)  # the draft's call made again, then the one that follows the answer
    assert second.finish() == KILLED, second.shown
    assert "Publish it?" not in second.shown

    third = Terminal(tmp_path, worker.env, "runs", "resume", run_id)
    assert third.finish() == 0, third.shown
    assert "Publish it?" not in third.shown and "Your name?" not in third.shown

    assert probe.status(run_id) == "completed"
    output = probe.output(run_id)
    assert output["ok"] is True and output["name"] == "Grace"
    assert answers(probe, run_id) == [True, "Grace"]
    assert probe.events_twice(run_id) == []
    # Each call once, but the one in flight at each kill, made again once.
    draft, again, text, last = served.calls()[before:]
    assert draft == again and "approved: true" in draft
    assert text == last and "Write to Grace" in text
    probe.close()


def test_a_command_killed_while_it_asks_leaves_the_question_waiting(
    tmp_path: Path, served: ModelServer, worker: Worker
) -> None:
    (tmp_path / "ask.tac").write_text(ASK.replace("URL", served.api_base))
    probe = StoreProbe(tmp_path)
    first = Terminal(tmp_path, worker.env, "run", "ask.tac")
    first.expect("Publish it?")
    [run_id] = probe.run_ids()
    # Once the question is on disk, the run waits for it wherever it was asked.
    wait_until(lambda: probe.status(run_id) == "waiting", "the question on disk")
    kill_command(worker)
    assert first.finish() == KILLED, first.shown
    refused = worker.tide("runs", "resume", run_id, "--workspace", str(tmp_path))
    assert refused.returncode == 2
    assert f"tide runs answer {run_id}" in refused.stderr

    approved = worker.tide("runs", "answer", run_id, "true", "--workspace", str(tmp_path))
    assert approved.returncode == 4, approved.stderr  # waiting again: "Your name?"
    done = worker.tide("runs", "answer", run_id, "Ada", "--json", "--workspace", str(tmp_path))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "completed"
    assert result["output"]["ok"] is True and result["output"]["name"] == "Ada"
    assert answers(probe, run_id) == [True, "Ada"]
    probe.close()
