"""The warm state a fork server's children share."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
from pydantic import BaseModel
import runtime.api, runtime.run
from runtime.forking import build_deferred_models

def waiting():
    found, todo = [], list(BaseModel.__subclasses__())
    while todo:
        model = todo.pop()
        todo.extend(model.__subclasses__())
        if model.__module__.startswith("runtime.") and not model.__pydantic_complete__:
            found.append(model.__name__)
    return found

before = waiting()
build_deferred_models()
print(len(before), len(waiting()))
"""


def test_the_runtimes_deferred_models_are_built_before_children_fork() -> None:
    # A fresh process: the models defer their build until first used, which each child of a
    # fork server would otherwise do again.
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    before, after = map(int, done.stdout.split())
    assert before > 0
    assert after == 0
