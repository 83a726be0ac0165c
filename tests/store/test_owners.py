"""Whether a run's recording process is gone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from runtime.store._owners import is_gone, this_process


def test_a_live_process_is_not_gone() -> None:
    assert not is_gone(this_process())
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not is_gone(f"{socket.gethostname()}:{child.pid}")
    finally:
        child.kill()
        child.wait()


def test_a_zombie_is_gone() -> None:
    # Killed, and not yet collected by its parent: it answers kill(pid, 0) but is dead.
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    for _ in range(500):
        with open(f"/proc/{child.pid}/stat", "rb") as stat:
            if stat.read().rpartition(b")")[2].split()[0] == b"Z":
                break
        time.sleep(0.01)
    try:
        assert is_gone(f"{socket.gethostname()}:{child.pid}")
    finally:
        child.wait()
    assert is_gone(f"{socket.gethostname()}:{child.pid}")


def test_owners_on_other_hosts_are_never_judged() -> None:
    assert not is_gone(f"another-host:{os.getpid() + 1}")
