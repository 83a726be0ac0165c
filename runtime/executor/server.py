"""The fork server: imports the runtime once, then forks one executor per request.

It is single-threaded on purpose: a process that forks must have no other threads, or a child
could inherit a lock some thread held at the instant of the fork. It never runs procedure code
itself, so it always answers: it kills an executor when its host asks, when the executor
outlives the time its spec allows, and all of them when its host goes away.

Requests arrive on the control socket (``runtime.executor.wire`` control messages): ``{"op": "start",
"run": ID, "seconds": S}`` with the executor's socket, and ``{"op": "kill", "run": ID}``.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field

from runtime.executor.wire import receive_control

log = logging.getLogger("tide.executor")

# What every executor needs, imported here once instead of in each.
RUN_MODULES = ("runtime.api", "runtime.run", "runtime.executor.child", "runtime.validate")


@dataclass
class Executor:
    run_id: str
    kill_at: float


@dataclass
class ForkServer:
    control: socket.socket
    executors: dict[int, Executor] = field(default_factory=dict)
    stopping: bool = False

    def serve(self) -> None:
        wakeup_read, wakeup_write = os.pipe()
        os.set_blocking(wakeup_read, False)
        os.set_blocking(wakeup_write, False)
        signal.set_wakeup_fd(wakeup_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        selector = selectors.DefaultSelector()
        selector.register(self.control, selectors.EVENT_READ, "control")
        selector.register(wakeup_read, selectors.EVENT_READ, "signal")
        try:
            while not self.stopping:
                for key, _ in selector.select(timeout=self._next_deadline()):
                    if key.data == "control":
                        self._request()
                    else:
                        _drain(wakeup_read)
                self._reap()
                self._kill_overdue(time.monotonic())
        finally:
            for pid in list(self.executors):
                _signal(pid, signal.SIGKILL)
            for pid in list(self.executors):
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
            selector.close()

    def _next_deadline(self) -> float:
        if not self.executors:
            return 1.0
        soonest = min(e.kill_at for e in self.executors.values())
        return max(0.0, min(1.0, soonest - time.monotonic()))

    def _request(self) -> None:
        try:
            message, fds = receive_control(self.control, max_fds=1)
        except (ConnectionError, OSError, ValueError):
            self.stopping = True  # the host is gone
            return
        try:
            op = message.get("op")
            if op == "start" and len(fds) == 1:
                seconds = float(message.get("seconds", 60.0))
                pid = self._fork(fds[0])
                self.executors[pid] = Executor(str(message["run"]), time.monotonic() + seconds)
            elif op == "kill":
                for pid, executor in self.executors.items():
                    if executor.run_id == message.get("run"):
                        _signal(pid, signal.SIGKILL)
        finally:
            for fd in fds:
                os.close(fd)

    def _fork(self, data_fd: int) -> int:
        pid = os.fork()
        if pid:
            return pid
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            self.control.close()
            from runtime.executor.child import run_executor

            code = run_executor(os.dup(data_fd))
        except BaseException:
            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)

    def _kill_overdue(self, now: float) -> None:
        for pid, executor in self.executors.items():
            if now > executor.kill_at:
                _signal(pid, signal.SIGKILL)

    def _reap(self) -> None:
        for pid in list(self.executors):
            with contextlib.suppress(ChildProcessError):
                done, _status = os.waitpid(pid, os.WNOHANG)
                if not done:
                    continue
            del self.executors[pid]


def prepare(preload: list[str]) -> None:
    for name in (*RUN_MODULES, *preload):
        try:
            importlib.import_module(name)
        except Exception:
            log.warning("could not load %s ahead of time", name, exc_info=True)
    gc.collect()
    gc.freeze()


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m runtime.executor")
    parser.add_argument("control_fd", type=int)
    parser.add_argument("--preload", action="append", default=[])
    args = parser.parse_args(argv)
    control = socket.socket(fileno=args.control_fd)
    control.setblocking(True)
    prepare(args.preload)
    if threading.active_count() != 1:
        log.error("threads running after start-up (%s): cannot fork safely", threading.enumerate())
        return 1
    try:
        control.sendall(b"r")  # ready: requests sent from now on are answered at once
    except OSError:
        return 0  # the host went away while this started
    ForkServer(control).serve()
    return 0


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
