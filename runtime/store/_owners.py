"""Which process records a run, and whether that process is still there.

A run's row says ``running`` until its terminal event is stored. When the process recording it
dies (killed, out of memory, the machine's power), nothing will ever finish that row, and every
reader would wait on it. So each row names its owner, ``host:pid``, and whoever opens the store
on that host marks the runs of owners that are gone as failed.
"""

from __future__ import annotations

import os
import socket

INTERRUPTED = "interrupted"
INTERRUPTED_MESSAGE = (
    "the process running this run stopped before the run finished; "
    "its events up to the last stored batch are kept"
)


def this_process() -> str:
    # Read at each call, not once at import: a forked child is another owner.
    return f"{socket.gethostname()}:{os.getpid()}"


def is_gone(owner: str) -> bool:
    """Whether ``owner`` is a process on this host that no longer exists. Owners on other
    hosts (a store on a shared disk) are never judged from here."""
    host, _, pid_text = owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, under another user
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed process whose parent died too stays a zombie until init collects it, which
    some inits do late: it still answers ``kill(pid, 0)`` but will never write again."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # The state follows the command name, which is in parentheses and may hold any byte.
            return stat.read().rpartition(b")")[2].split()[0] == b"Z"
    except (OSError, IndexError):
        return False
