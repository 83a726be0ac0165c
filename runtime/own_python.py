"""Starting a Python process that runs this runtime's code (the executors' fork server, ``tide
worker``): it imports the very files this process imported, never a ``runtime`` package that
happens to sit in the directory it was started from."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

# The directory this process imported the ``runtime`` package from.
RUNTIME_PARENT = str(Path(__file__).resolve().parent.parent)


def module_command(module: str, *args: str) -> list[str]:
    """``python -m module args``, with the current directory left off the import path (``-P``):
    a user's project with a folder of that name must not replace the runtime."""
    return [sys.executable, "-P", "-m", module, *args]


def module_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for ``module_command``: this one, with the runtime's directory on
    ``PYTHONPATH`` when this process found the runtime only in the directory ``-P`` leaves off
    (``python -m runtime`` in a checkout that is not installed)."""
    environment = dict(os.environ if base is None else base)
    entries = [entry for entry in environment.get("PYTHONPATH", "").split(os.pathsep) if entry]
    listed = {os.path.abspath(entry) for entry in entries}
    if _found_in_start_directory() and RUNTIME_PARENT not in listed:
        environment["PYTHONPATH"] = os.pathsep.join([RUNTIME_PARENT, *entries])
    return environment


def _found_in_start_directory() -> bool:
    """Whether the runtime's directory is this process's first import path entry (the current
    directory of ``python -m``, a script's directory) and no other."""
    if not sys.path:
        return False
    first = os.path.abspath(sys.path[0] or os.getcwd())
    others = {os.path.abspath(entry) for entry in sys.path[1:] if entry}
    return first == RUNTIME_PARENT and RUNTIME_PARENT not in others
