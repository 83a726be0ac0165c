"""The worker process: import once, then fork one child per command (a ``ForkLoop``, see
``runtime.forking``).

What a command is, and what to import for it, is the caller's (``tide worker start`` passes
the ``tide`` command line): the worker knows processes, sockets and signals only.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import selectors
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from runtime.forking import Child, ForkLoop, freeze_warm_state, kill, single_threaded
from runtime.wire import receive_message, send_message
from runtime.worker._paths import fingerprint, socket_path, worker_dir

log = logging.getLogger("tide.worker")

# A command, run in a child: the arguments after ``tide``, and the exit status.
Command = Callable[[list[str]], int]
# A child whose command went away (its terminal closed, say) gets SIGINT, then this long to
# end cleanly before SIGKILL.
ABANDONED_GRACE_S = 10.0
# How often a worker checks that it is still current (Tide's files and packages unchanged).
CHECK_EVERY_S = 30.0
REQUEST_TIMEOUT_S = 5.0
_CREDENTIALS = struct.Struct("3i")


@dataclass
class Run(Child):
    # The command's connection, until the child ends or the command goes away.
    connection: socket.socket | None = None


class Worker(ForkLoop[Run]):
    def __init__(
        self,
        listener: socket.socket,
        path: Path,
        inode: int,
        fingerprint: str,
        idle_exit_s: float,
        command: Command,
    ) -> None:
        super().__init__()
        self.listener = listener
        self.path = path
        self.inode = inode
        self.fingerprint = fingerprint
        self.idle_exit_s = idle_exit_s
        self.command = command
        self.started_at = time.time()
        self.runs = 0
        self.last_active = self.last_check = time.monotonic()
        self.selector.register(listener, selectors.EVENT_READ, self._accept)
        self.closers.append(listener.close)

    def running(self) -> bool:
        return not (self.stopping and not self.children)

    def serve(self) -> None:
        try:
            super().serve()
        finally:
            self._unlink()

    def tick(self, now: float) -> None:
        if self.children:
            self.last_active = now
        elif now - self.last_active > self.idle_exit_s and not self.stopping:
            log.info("idle for %.0f s: exiting", self.idle_exit_s)
            self.stopping = True
        if now - self.last_check > CHECK_EVERY_S:
            self.last_check = now
            if fingerprint() != self.fingerprint:
                log.info("Tide's files or packages changed: no longer serving")
                self.stopping = True
                self._unlink()

    def _accept(self, _key: selectors.SelectorKey) -> None:
        try:
            connection, _ = self.listener.accept()
        except BlockingIOError:
            return
        connection.settimeout(REQUEST_TIMEOUT_S)
        if not _same_user(connection):
            log.warning("refused a connection from another user")
            connection.close()
            return
        try:
            message, fds = receive_message(connection, max_fds=3)
        except (OSError, ValueError) as exc:
            log.warning("dropped a request: %s", exc)
            connection.close()
            return
        try:
            self._answer(connection, message, fds)
        finally:
            for fd in fds:
                os.close(fd)

    def _answer(self, connection: socket.socket, message: dict[str, Any], fds: list[int]) -> None:
        op = message.get("op")
        if op == "run" and len(fds) == 3 and not self.stopping:
            pid = self.fork(lambda: self._run(connection, message, fds))
            self.runs += 1
            send_message(connection, {"pid": pid})
            connection.setblocking(False)
            self.children[pid] = Run(connection=connection)
            self.selector.register(connection, selectors.EVENT_READ, partial(self._abandoned, pid))
            return
        if op == "status":
            send_message(connection, self.status())
        elif op == "stop":
            self.stopping = True
            self._unlink()
            send_message(connection, {"stopping": True, "running": len(self.children)})
        else:
            send_message(connection, {"error": f"cannot {op!r} now"})
        connection.close()

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "fingerprint": self.fingerprint,
            "started_at": self.started_at,
            "runs": self.runs,
            "running": len(self.children),
            "idle_exit_s": self.idle_exit_s,
        }

    def _run(self, connection: socket.socket, message: dict[str, Any], fds: list[int]) -> int:
        """In the child: the other commands' connections, and its own, are the worker's."""
        for child in self.children.values():
            if child.connection is not None:
                child.connection.close()
        connection.close()
        return run_child(self.command, message, fds)

    def _abandoned(self, pid: int, _key: selectors.SelectorKey) -> None:
        """The command's connection is readable: it only ever closes, when the command ends
        before its child (killed, or its terminal gone)."""
        child = self.children[pid]
        if child.connection is not None:
            self.selector.unregister(child.connection)
            child.connection.close()
            child.connection = None
        child.kill_at = time.monotonic() + ABANDONED_GRACE_S
        kill(pid, signal.SIGINT)

    def ended(self, pid: int, child: Run, code: int) -> None:
        connection = child.connection
        if connection is None:
            return
        self.selector.unregister(connection)
        connection.setblocking(True)
        with contextlib.suppress(OSError):
            send_message(connection, {"exit": code if code >= 0 else 128 - code})
        connection.close()

    def _unlink(self) -> None:
        try:
            # Only its own: a newer worker may have taken the path since.
            if self.path.stat().st_ino == self.inode:
                self.path.unlink()
        except OSError:
            pass


def run_child(command: Command, message: dict[str, Any], fds: list[int]) -> int:
    """In the forked child: become the command's process, then run it."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in set(fds) - {0, 1, 2}:
        os.close(fd)
    os.chdir(message["cwd"])
    os.umask(int(message["umask"]))
    os.environ.clear()
    os.environ.update(message["env"])
    encoding, errors = message["encoding"], message["errors"]
    tty = os.isatty(1)
    sys.stdin = open(0, encoding=encoding, errors=errors, closefd=False)  # noqa: SIM115
    sys.stdout = open(  # noqa: SIM115
        1, "w", encoding=encoding, errors=errors, closefd=False, buffering=1 if tty else -1
    )
    sys.stderr = open(  # noqa: SIM115
        2, "w", encoding=encoding, errors="backslashreplace", closefd=False, buffering=1
    )
    argv = [str(arg) for arg in message["argv"]]
    sys.argv = ["tide", *argv]
    try:
        code = command(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        # What the interpreter does at exit, which os._exit skips.
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    return code


def listen(idle_exit_s: float, command: Command) -> Worker | None:
    """Bind this code's socket; None when a worker already serves it."""
    current = fingerprint()
    path = socket_path(worker_dir(create=True), current)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        return None
    except OSError:
        path.unlink(missing_ok=True)  # a socket left by a worker that was killed
    finally:
        probe.close()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(64)
    listener.setblocking(False)
    return Worker(listener, path, path.stat().st_ino, current, idle_exit_s, command)


def main(argv: list[str] | None, *, setup: Callable[[], None], command: Command) -> int:
    """Serve ``command`` until idle for ``--idle-exit`` seconds, after ``setup``."""
    import argparse

    parser = argparse.ArgumentParser(prog="tide worker serve")
    parser.add_argument("--idle-exit", type=float, default=1800.0, metavar="SECONDS")
    args = parser.parse_args(argv)
    # Its own logger only: the root logger's level would pass on to every run's child.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    began = time.perf_counter()
    freeze_warm_state(setup)
    if not single_threaded(log):
        return 1
    worker = listen(args.idle_exit, command)
    if worker is None:
        log.info("a worker for this code is already running")
        return 0
    log.info("ready in %.2f s: pid %d on %s", time.perf_counter() - began, os.getpid(), worker.path)
    worker.serve()
    return 0


def _same_user(connection: socket.socket) -> bool:
    """The socket's directory already keeps others out; the peer's credentials say so too
    where the system tells them."""
    if not hasattr(socket, "SO_PEERCRED"):
        return True
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
    _pid, uid, _gid = _CREDENTIALS.unpack(credentials)
    return bool(uid == os.getuid())
