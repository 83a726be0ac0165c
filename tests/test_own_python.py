"""Processes of the runtime's own (the executors' fork server, ``tide worker``) import the files
their starter did, whatever folders the directory they start in holds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime import MemoryHandler, Runtime, RuntimeConfig
from runtime.executor import ExecutorPool, ExecutorRun
from runtime.own_python import RUNTIME_PARENT, module_command, module_environment
from runtime.source import ProcedureSource

TIDE = Path(sys.executable).with_name("tide")


def decoy(folder: Path) -> Path:
    """A project of a user's with a package named ``runtime`` of its own."""
    (folder / "runtime").mkdir()
    (folder / "runtime" / "__init__.py").write_text("raise ImportError('a decoy runtime')\n")
    return folder


def test_the_runtime_directory_joins_the_path_only_when_found_in_the_start_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `python -m runtime` in a checkout: found in the current directory, which -P leaves off.
    monkeypatch.setattr(sys, "path", [RUNTIME_PARENT, "/elsewhere"])
    environment = module_environment({"PYTHONPATH": "/a"})
    assert environment["PYTHONPATH"].split(os.pathsep) == [RUNTIME_PARENT, "/a"]
    assert module_environment({"PYTHONPATH": RUNTIME_PARENT})["PYTHONPATH"] == RUNTIME_PARENT
    # Installed, on PYTHONPATH, or through an editable install's finder: left as it is.
    monkeypatch.setattr(sys, "path", ["/bin", RUNTIME_PARENT])
    assert module_environment({"PYTHONPATH": "/a"})["PYTHONPATH"] == "/a"
    monkeypatch.setattr(sys, "path", ["/bin", "/elsewhere"])
    assert "PYTHONPATH" not in module_environment({})


def test_a_module_started_in_a_folder_with_a_runtime_of_its_own_imports_this_one(
    tmp_path: Path,
) -> None:
    shows = "import runtime; print(runtime.__file__)"
    done = subprocess.run(
        [*module_command("runtime.own_python")[:2], "-c", shows],
        cwd=decoy(tmp_path),
        env=module_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(Path(RUNTIME_PARENT) / "runtime" / "__init__.py")


@pytest.mark.anyio
@pytest.mark.timeout(60)
async def test_executors_start_from_a_folder_with_a_runtime_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(decoy(tmp_path))
    source = ProcedureSource.from_text("Procedure { function(input) return { x = 1 } end }\n")
    async with Runtime(RuntimeConfig()) as runtime, ExecutorPool() as pool:
        events = MemoryHandler()
        run = ExecutorRun(pool, runtime, source, {}, handlers=[events], mock=True, run_id="d1")
        await run.prepare()
        await run.execute()
    assert events.events[-1].type == "run_completed"


@pytest.mark.timeout(180)
def test_tide_worker_starts_from_a_folder_with_a_runtime_of_its_own(tmp_path: Path) -> None:
    sockets = tmp_path / "sockets"
    sockets.mkdir(mode=0o700)
    env = {**os.environ, "TIDE_WORKER": "on", "TIDE_WORKER_DIR": str(sockets)}
    (tmp_path / "project").mkdir()
    folder = decoy(tmp_path / "project")
    try:
        started = subprocess.run(
            [str(TIDE), "worker", "start", "--idle-exit", "1"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=150,
        )
        assert started.returncode == 0, started.stderr
        assert "worker ready" in started.stdout
    finally:
        subprocess.run([str(TIDE), "worker", "stop"], cwd=folder, env=env, timeout=60, check=False)
