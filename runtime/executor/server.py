"""The executors' fork server: imports the runtime once, then forks executors and hands them
runs.

A ``ForkLoop`` (``runtime.forking``): single-threaded, it never runs procedure code itself, so it
always answers. It kills an executor when its host asks, when the executor outlives the time
its runs allow, and all of them when its host goes away.

Every run has an executor of its own while fewer than ``shared_from`` runs of its procedure
are going. Past that, a process per run costs more than the machine may have (a process's
wake-up for every streamed chunk, a fork for every run), and further runs of the procedure share
executors: one takes up to ``runs_per_executor`` runs at once, all of one group (the host's
``RunSpec.executor_group``: the runs of one procedure), while it is younger than ``ADMIT_S``.
Killing a run kills its executor, and so the other runs of the same procedure in it: a
procedure that must be stopped by force never takes another procedure's runs with it.

An executor of its own that inspected a run waits ``RESERVED_S`` for the run itself, which it
then takes: the run's start needs no fork of its own.

Requests arrive on the control socket as ``runtime.wire`` messages: ``{"op": "start", "run":
ID, "kind": K, "group": G, "seconds": S}`` with the run's socket, and ``{"op": "kill", "run":
ID}``. Each executor has a control socket of its own: the fork server sends it each run's socket
there (``{"run": ID}``), and the executor says ``{"ended": ID}`` when a run is over.
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
from collections import Counter
from dataclasses import dataclass, field

from runtime.forking import Child, ForkLoop, freeze_warm_state, kill, single_threaded
from runtime.wire import receive_message, send_message

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
# How long after its fork an executor takes new runs (of its group, while it has room). Past
# it, the executor ends when its last run does: no process lives on with the leftovers of
# many runs.
ADMIT_S = 30.0
# How long an executor with no run waits for another before it ends; and one that inspected a
# run, for the run (which follows at once when it has a slot and its turn to start: a run that
# waits longer starts in an executor of its own, and the idle one is not kept meanwhile).
IDLE_S = 1.0
RESERVED_S = 0.25


@dataclass
class Executor(Child):
    group: str = ""
    # The fork server's end of the executor's control socket; None once closed (it takes no
    # more runs, and ends with its last).
    control: socket.socket | None = None
    # Its runs (an inspection and its run may overlap in it, as its end is told to this server
    # after the host has seen it): how many requests of each it has not ended yet.
    runs: Counter[str] = field(default_factory=Counter)
    admit_until: float = 0.0
    idle_since: float = 0.0
    # The run whose next request this executor takes, even when it takes no other (a run's
    # inspection is followed by the run itself).
    reserved_for: str | None = None


class ForkServer(ForkLoop[Executor]):
    def __init__(
        self, control: socket.socket, runs_per_executor: int = 1, shared_from: int = 0
    ) -> None:
        super().__init__()
        self.control = control
        self.runs_per_executor = max(1, runs_per_executor)
        self.shared_from = shared_from
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
                run_id = str(message["run"])
                group = str(message.get("group") or run_id)
                seconds = float(message.get("seconds", 60.0))
                inspection = message.get("kind") == "inspect"
                self._hand_over(run_id, group, fds[0], seconds, inspection)
            elif op == "kill":
                for pid, executor in self.children.items():
                    if message.get("run") in executor.runs:
                        kill(pid, signal.SIGKILL)
                        self._retire(executor)
        finally:
            for fd in fds:
                os.close(fd)

    def _hand_over(
        self, run_id: str, group: str, data_fd: int, seconds: float, inspection: bool
    ) -> None:
        """Give the run's socket to the executor that inspected it, to an executor of ``group``
        with room, or to a new one."""
        now = time.monotonic()
        going = sum(len(e.runs) for e in self.children.values() if e.group == group)
        alone = self.runs_per_executor == 1 or going < self.shared_from
        # Its inspection's executor, waiting for it, first.
        reserved = [e for e in self.children.values() if e.reserved_for == run_id]
        others = [] if alone else [e for e in self.children.values() if e.reserved_for != run_id]
        for executor in [*reserved, *others]:
            admitted = executor.reserved_for == run_id or self._admits(executor, group, now)
            if admitted and executor.control is not None:
                executor.reserved_for = None
                if self._send_run(executor, run_id, data_fd):
                    break
        else:
            runs = 1 if alone else self.runs_per_executor
            executor = self._fork_executor(group, now, runs, data_fd)
            if not self._send_run(executor, run_id, data_fd):
                return  # it died at once: the host sees the run's socket close
            if alone:
                executor.admit_until = 0.0  # a process of its own: it takes no other run...
                if inspection:
                    executor.reserved_for = run_id  # ...but the run it inspects
        executor.kill_at = max(executor.kill_at or 0.0, now + seconds)

    def _admits(self, executor: Executor, group: str, now: float) -> bool:
        return (
            executor.control is not None
            and executor.group == group
            and len(executor.runs) < self.runs_per_executor
            and now < executor.admit_until
            and executor.kill_at is not None  # not being killed
        )

    def _send_run(self, executor: Executor, run_id: str, data_fd: int) -> bool:
        assert executor.control is not None
        try:
            send_message(executor.control, {"run": run_id}, [data_fd])
        except OSError:
            self._retire(executor)
            return False
        executor.runs[run_id] += 1
        return True

    def _fork_executor(self, group: str, now: float, runs: int, data_fd: int) -> Executor:
        """A new executor for up to ``runs`` runs of ``group`` (its limits are set for them).
        ``data_fd``, the socket being handed over, reaches it as a message like every other
        run's, not as the copy a fork would leave it."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        siblings = [e.control for e in self.children.values() if e.control is not None]

        def body() -> int:
            ours.close()
            os.close(data_fd)
            for control in siblings:
                control.close()
            return _execute(theirs.fileno(), runs)

        pid = self.fork(body)
        theirs.close()
        executor = Executor(None, group, ours, admit_until=now + ADMIT_S)
        self.children[pid] = executor
        self.selector.register(ours, selectors.EVENT_READ, lambda _: self._note(executor))
        return executor

    def _note(self, executor: Executor) -> None:
        """A message from an executor: a run of it has ended."""
        if executor.control is None:
            return
        try:
            message, _ = receive_message(executor.control)
        except (ConnectionError, OSError, ValueError):
            self._retire(executor)
            return
        executor.runs -= Counter([str(message.get("ended"))])  # (drops those at 0)
        if not executor.runs:
            executor.idle_since = time.monotonic()

    def _retire(self, executor: Executor) -> None:
        """It takes no more runs: it ends when its last run does."""
        if executor.control is not None:
            self.selector.unregister(executor.control)
            executor.control.close()
            executor.control = None

    def tick(self, now: float) -> None:
        for executor in self.children.values():
            idle = now - executor.idle_since
            if executor.reserved_for is not None:
                waited = idle >= RESERVED_S
            else:
                waited = idle >= IDLE_S or now >= executor.admit_until
            if not executor.runs and waited:
                self._retire(executor)

    def ended(self, pid: int, child: Executor, code: int) -> None:
        self._retire(child)


def _execute(control_fd: int, runs: int) -> int:
    """In the executor: its host's Ctrl-C is not its business (the host cancels it), and the
    host goes first for the processor: a run that spins does not slow the server's answers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(EXECUTOR_NICENESS)
    from runtime.executor.child import serve_executor

    return serve_executor(os.dup(control_fd), runs)


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
    parser.add_argument("--runs-per-executor", type=int, default=1)
    parser.add_argument("--shared-from", type=int, default=0)
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
    ForkServer(control, args.runs_per_executor, args.shared_from).serve()
    return 0
