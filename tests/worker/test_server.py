"""A warm worker, end to end: ``tide worker start``, then ``tide run`` commands it serves,
as a user runs them (subprocesses, signals, exit statuses, the store)."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TIDE = Path(sys.executable).with_name("tide")

HELLO = """
greeter = Agent { model = "openai/gpt-4o-mini", system_prompt = "You greet {input.name}." }
Procedure {
  input = { name = field.string{ default = "Ada" } },
  output = { greeting = field.string{ required = true } },
  function(input)
    return { greeting = greeter({ message = "Greet " .. input.name }).output }
  end
}
"""
ASK = """
Procedure {
  output = { name = field.string{ required = true } },
  function(input)
    return { name = Human.input({ message = "Your name?" }) }
  end
}
"""
SLOW_SCRIPT = {"replies": [{"tokens": 2000, "tokens_per_second": 20}]}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("worker")
    (root / "procs").mkdir()
    (root / "procs" / "hello.tac").write_text(HELLO)
    (root / "procs" / "syntax.tac").write_text(
        "Procedure {\n  function(input)\n    return { x = }\n"
    )
    (root / "procs" / "ask.tac").write_text(ASK)
    (root / "slow.json").write_text(json.dumps(SLOW_SCRIPT))
    sockets = root / "sockets"
    sockets.mkdir(mode=0o700)
    return root


def environment(workdir: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "TIDE_WORKER": "on", "TIDE_WORKER_DIR": str(workdir / "sockets")}
    env.pop("TIDE_MODEL", None)
    env.pop("OPENAI_API_KEY", None)
    return {**env, **extra}


def tide(workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TIDE), *args],
        cwd=workdir,
        env=environment(workdir, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def runs_served(workdir: Path) -> int:
    status = tide(workdir, "worker", "status").stdout
    assert "serves `tide run`" in status, status
    return int(status.split(" run(s)")[0].rsplit(" ", 1)[1])


@pytest.fixture(scope="module")
def worker(workdir: Path) -> Iterator[Path]:
    started = tide(workdir, "worker", "start", "--idle-exit", "10")
    assert started.returncode == 0, started.stderr
    assert "worker ready" in started.stdout
    yield workdir
    stopped = tide(workdir, "worker", "stop")
    assert "worker stopping" in stopped.stdout
    deadline = time.monotonic() + 30
    while list((workdir / "sockets").glob("*.sock")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not list((workdir / "sockets").glob("*.sock"))
    assert "no worker running" in tide(workdir, "worker", "status").stdout


def run_status(workdir: Path, run_id: str) -> str | None:
    """The stored status (None before the store's first batch has the run)."""
    with sqlite3.connect(workdir / ".tide" / "runs.db") as db:
        row = db.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
    return None if row is None else str(row[0])


def test_a_second_start_finds_the_running_worker(worker: Path) -> None:
    again = tide(worker, "worker", "start")
    assert again.returncode == 0
    assert "already running" in again.stdout


def test_run_is_served_by_the_worker_with_the_callers_directory_and_arguments(
    worker: Path,
) -> None:
    before = runs_served(worker)
    result = tide(
        worker,
        "run",
        "procs/hello.tac",
        "--model",
        "scripted/default",
        "-p",
        "name=Grace",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["status"] == "completed"
    assert "Grace" in payload["output"]["greeting"]
    assert runs_served(worker) == before + 1
    # Recorded in the store of the directory the command ran in.
    assert run_status(worker, payload["run_id"]) == "completed"


def test_user_mistakes_keep_their_message_and_exit_status(worker: Path) -> None:
    before = runs_served(worker)
    result = tide(worker, "run", "procs/syntax.tac")
    assert result.returncode == 2
    assert "procs/syntax.tac:3" in result.stderr
    assert "Traceback" not in result.stderr
    missing = tide(worker, "run", "procs/absent.tac")
    assert missing.returncode == 2
    assert "absent.tac" in missing.stderr
    assert runs_served(worker) == before + 2


def test_resume_and_answer_are_served_but_not_the_other_runs_commands(worker: Path) -> None:
    before = runs_served(worker)
    for action in ("resume", "answer"):
        args = ("runs", action, "nope") + (("true",) if action == "answer" else ())
        refused = tide(worker, *args)
        assert refused.returncode == 2
        assert "no run" in refused.stderr, refused.stderr
    assert runs_served(worker) == before + 2
    assert tide(worker, "runs", "--json").returncode == 0
    assert runs_served(worker) == before + 2


def test_other_import_time_settings_run_in_their_own_process(worker: Path) -> None:
    before = runs_served(worker)
    result = tide(
        worker, "run", "procs/hello.tac", "--model", "scripted/default", LITELLM_LOG="ERROR"
    )
    assert result.returncode == 0, result.stderr
    assert runs_served(worker) == before


def start_slow_run(worker: Path, *, process_group: int = -1) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [str(TIDE), "run", "procs/hello.tac", "--model", "scripted/default"],
        cwd=worker,
        env=environment(worker, TIDE_SCRIPTED_SCRIPT=str(worker / "slow.json")),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        process_group=process_group,
    )
    assert process.stdout is not None
    run_id = ""
    for line in process.stdout:
        if line.startswith("▶"):
            run_id = line.split(" run ")[1].split()[0]
        if "(turn 1" in line:
            break
    assert run_id
    return process, run_id


def test_ctrl_c_reaches_the_run(worker: Path) -> None:
    process, run_id = start_slow_run(worker)
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "cancelled" in rest
    assert run_status(worker, run_id) == "cancelled"


def test_a_command_that_dies_has_its_run_cancelled(worker: Path) -> None:
    process, run_id = start_slow_run(worker)
    process.kill()
    process.wait()
    deadline = time.monotonic() + 60
    while run_status(worker, run_id) in (None, "running") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run_status(worker, run_id) == "cancelled"


def process_state(pid: int) -> str:
    """The kernel's one-letter state of a process ('T': stopped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def children_of(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states in /proc")
def test_ctrl_z_suspends_the_run_with_the_command(worker: Path) -> None:
    worker_pid = int(tide(worker, "worker", "status").stdout.split("pid ")[1].split(":")[0])
    # A group of its own, whose parent (this process) is in another group of the session:
    # the kernel drops stop signals sent to a group without one (an "orphaned" group).
    process, run_id = start_slow_run(worker, process_group=0)
    (child,) = [pid for pid in children_of(worker_pid) if process_state(pid) != "Z"]
    process.send_signal(signal.SIGTSTP)
    wait_for(lambda: process_state(process.pid) == "T" and process_state(child) == "T")
    process.send_signal(signal.SIGCONT)
    wait_for(lambda: process_state(child) != "T")
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode == 130
    assert run_status(worker, run_id) == "cancelled"


def test_a_terminal_is_the_runs_own(worker: Path) -> None:
    """The child writes to the command's terminal (colours, since it is one) and reads the
    person's answers from it."""
    before = runs_served(worker)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [str(TIDE), "run", "procs/ask.tac", "--no-store"],
        cwd=worker,
        env=environment(worker, TERM="xterm-256color"),
        stdin=follower,
        stdout=follower,
        stderr=follower,
        start_new_session=True,
    )
    os.close(follower)
    seen = b""
    answered = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.1)
        if ready:
            try:
                data = os.read(leader, 4096)
            except OSError:  # the terminal closes when the command ends
                break
            seen += data
            if b"Your name?" in seen and not answered:
                os.write(leader, b"Grace\n")
                answered = True
        elif process.poll() is not None:
            break
    os.close(leader)
    assert process.wait(timeout=30) == 0
    assert answered
    assert b'"Grace"' in seen
    assert b"\x1b[" in seen  # styled, as on any terminal
    assert runs_served(worker) == before + 1


def test_runs_at_the_same_time_each_get_their_own_child(worker: Path) -> None:
    before = runs_served(worker)
    names = ["Ada", "Grace", "Edsger"]
    command = [str(TIDE), "run", "procs/hello.tac", "--model", "scripted/default", "--json"]
    processes = [
        subprocess.Popen(
            [*command, "-p", f"name={name}"],
            cwd=worker,
            env=environment(worker),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0]
    for name, output in zip(names, outputs, strict=True):
        assert name in json.loads(output)["output"]["greeting"]
    assert runs_served(worker) == before + 3


def test_a_directory_others_can_use_is_refused_clearly(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    for action in ("start", "status"):
        result = tide(tmp_path, "worker", action, TIDE_WORKER_DIR=str(shared))
        assert result.returncode == 1
        assert "only you can use" in result.stderr
        assert "Traceback" not in result.stderr
    assert not list(shared.iterdir())
