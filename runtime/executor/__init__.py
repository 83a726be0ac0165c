"""Executor processes: a run in a process of its own, which can be killed whatever its Lua is
doing (a call into Lua's C library cannot be interrupted from inside the process).

A long-lived host (the IDE server) starts one fork server (``python -m runtime.executor``), a
single-threaded process that has imported the runtime and forks one executor per run or
inspection (or, once many runs of one procedure are going, one for several of them). The host
hands it a ``RunSpec`` (serializable: source, inputs, settings, run id) and a socket; the
executor streams the run's events back over that socket as lines of the usual event JSON and
reads ``cancel`` from it. Nothing else is shared, so the same boundary can
later carry runs to other machines. The host kills an executor that overstays its timeout or a
cancel by ``GRACE_S`` and ends the run itself, with the partial text it has seen.
"""


# ruff: noqa: F401
# The imports under TYPE_CHECKING are the public names (see runtime.lazy): the in-process
# watchdog (``runtime.executor.watchdog``) is imported without the rest.

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.lazy import lazy_exports

if TYPE_CHECKING:
    from runtime.executor.pool import ExecutorPool
    from runtime.executor.run import ExecutorRun
    from runtime.executor.spec import GRACE_S, RunSpec

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__, globals())
