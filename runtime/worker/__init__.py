"""A warm worker for ``tide run``.

Starting Python and importing DSPy and LiteLLM takes seconds, every time. A worker is a
process that has done that once: ``tide worker start`` launches it, and while it runs,
``tide run`` hands it the command (arguments, working directory, environment and its own
stdin, stdout and stderr) over a Unix socket. The worker forks one child per run, so each run
starts from the same warm, clean state, runs as the user's own process would, and writes to
the user's terminal directly. Signals the command receives (Ctrl-C) go to the child; the
child's exit status becomes the command's.

A worker serves only commands from the same code, Python and import-time settings (see
:func:`fingerprint`); anything else runs in its own process as before. ``TIDE_WORKER=off``
turns delegation off.
"""

# ruff: noqa: F401
# The imports under TYPE_CHECKING are the public names (see runtime.lazy): ``tide run`` imports
# the client alone.

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.lazy import lazy_exports

if TYPE_CHECKING:
    from runtime.worker._paths import WorkerDirError, fingerprint, socket_path, worker_dir
    from runtime.worker._server import main as serve
    from runtime.worker.client import delegate, request

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__, globals())
