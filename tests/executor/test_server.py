"""The fork server's warm state: what every executor would otherwise redo before its first call
is done once, and the process stays safe to fork from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys, threading
from runtime.executor.server import MODEL_MODULES, RUN_MODULES, _warm
_warm(models={models})
from runtime.models._dspy import configured
print(configured(), threading.active_count(), all(m in sys.modules for m in RUN_MODULES),
      all(m in sys.modules for m in MODEL_MODULES))
"""


def warm_state(models: bool) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(models=models)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "PYTHONPATH": str(ROOT),
        },
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.timeout(150)
def test_the_models_fork_server_sets_up_the_model_libraries_and_stays_single_threaded() -> None:
    configured, threads, runtime_loaded, model_modules_loaded = warm_state(models=True)
    assert configured == "True"  # DSPy and LiteLLM imported and configured once, for every fork
    assert (runtime_loaded, model_modules_loaded) == ("True", "True")
    assert threads == "1"  # forking a process with threads is unsafe


@pytest.mark.timeout(150)
def test_the_plain_fork_server_leaves_the_model_libraries_out() -> None:
    configured, threads, runtime_loaded, model_modules_loaded = warm_state(models=False)
    assert (configured, threads, runtime_loaded, model_modules_loaded) == (
        "False",
        "1",
        "True",
        "False",
    )
