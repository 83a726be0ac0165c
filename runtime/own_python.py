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
    """The environment for ``module_command``: this one, with the runtime's directory on the
    import path when this process found it elsewhere than on its path proper (the current
    directory, ``python -m runtime`` in a checkout; an editable install's finder)."""
    environment = dict(os.environ if base is None else base)
    on_path = {os.path.abspath(entry) for entry in sys.path[1:] if entry}
    if RUNTIME_PARENT not in on_path:
        rest = [entry for entry in environment.get("PYTHONPATH", "").split(os.pathsep) if entry]
        environment["PYTHONPATH"] = os.pathsep.join([RUNTIME_PARENT, *rest])
    return environment
