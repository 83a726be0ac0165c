"""The executors' fork server: imports the runtime once, then forks one executor per request.

A ``ForkLoop`` (``runtime.forking``): single-threaded, it never runs procedure code itself, so it
always answers. It kills an executor when its host asks, when the executor outlives the time
its spec allows, and all of them when its host goes away.

Requests arrive on the control socket as ``runtime.wire`` messages: ``{"op": "start", "run":
ID, "seconds": S}`` with the executor's socket, and ``{"op": "kill", "run": ID}``.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import selectors
import signal
import socket
import time
from dataclasses import dataclass

from runtime.forking import Child, ForkLoop, freeze_warm_state, kill, single_threaded
from runtime.wire import receive_message

log = logging.getLogger("tide.executor")

# What every executor needs, imported here once instead of in each (anyio's event loop and
# sockets are loaded on first use, which in an executor is every time).
RUN_MODULES = (
    "runtime.api",
    "runtime.run",
    "runtime.executor.child",
    "runtime.validate",
    "anyio._backends._asyncio",
    "anyio._core._sockets",
)
# And Tide's own model client, for runs of real models (the model libraries' set-up loads what
# their first call would: ``runtime.models._first_call``).
MODEL_MODULES = ("runtime.models.llm",)
# How much lower an executor's scheduling priority is than its host's.
EXECUTOR_NICENESS = 10


@dataclass
class Executor(Child):
    run_id: str = ""


class ForkServer(ForkLoop[Executor]):
    def __init__(self, control: socket.socket) -> None:
        super().__init__()
        self.control = control
        self.selector.register(control, selectors.EVENT_READ, self._request)
        self.closers.append(control.close)

    def _request(self, _key: selectors.SelectorKey) -> None:
        try:
            message, fds = receive_message(self.control, max_fds=1)
        except (ConnectionError, OSError, ValueError):
            self.stopping = True  # the host is gone
            return
        try:
            op = message.get("op")
            if op == "start" and len(fds) == 1:
                kill_at = time.monotonic() + float(message.get("seconds", 60.0))
                pid = self.fork(lambda: _execute(fds[0]))
                self.children[pid] = Executor(kill_at, str(message["run"]))
            elif op == "kill":
                for pid, executor in self.children.items():
                    if executor.run_id == message.get("run"):
                        kill(pid, signal.SIGKILL)
        finally:
            for fd in fds:
                os.close(fd)


def _execute(data_fd: int) -> int:
    """In the executor: its host's Ctrl-C is not its business (the host cancels it), and the
    host goes first for the processor: a run that spins does not slow the server's answers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(EXECUTOR_NICENESS)
    from runtime.executor.child import run_executor

    return run_executor(os.dup(data_fd))


def _warm(models: bool) -> None:
    """What every executor would otherwise do first, done once here: import the runtime and,
    with ``models``, import and set up the model libraries (DSPy and LiteLLM: about half a second
    of processor time that each executor would spend again before its first call)."""
    for name in RUN_MODULES:
        importlib.import_module(name)
    if models:
        from runtime.models.router import load_model_libraries

        try:
            load_model_libraries()
            for name in MODEL_MODULES:
                importlib.import_module(name)
        except Exception:
            log.warning("could not load the model libraries ahead of time", exc_info=True)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m runtime.executor")
    parser.add_argument("control_fd", type=int)
    parser.add_argument("--models", action="store_true", help="set up the model libraries")
    args = parser.parse_args(argv)
    control = socket.socket(fileno=args.control_fd)
    control.setblocking(True)
    freeze_warm_state(lambda: _warm(args.models))
    if not single_threaded(log):
        return 1
    try:
        control.sendall(b"r")  # ready: requests sent from now on are answered at once
    except OSError:
        return 0  # the host went away while this started
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ForkServer(control).serve()
    return 0
