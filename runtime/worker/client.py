"""The command's side: hand a ``tide`` command to a running worker and wait for its status."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from runtime.wire import receive_message, send_message
from runtime.worker._paths import WorkerDirError, fingerprint, socket_path, worker_dir

SWITCH_ENV = "TIDE_WORKER"
# What a user sends to stop or interrupt a command; the child running it must get it instead.
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def supported() -> bool:
    return hasattr(socket, "AF_UNIX") and hasattr(os, "fork") and hasattr(socket, "send_fds")


def current_socket() -> Path | None:
    """The socket a worker for this code and these settings would listen on, if any."""
    if os.environ.get(SWITCH_ENV, "").lower() in ("off", "0", "no", "false") or not supported():
        return None
    try:
        path = socket_path(worker_dir(), fingerprint())
    except (OSError, WorkerDirError):
        return None
    return path if path.exists() else None


def delegate(argv: list[str]) -> int | None:
    """Run ``tide <argv>`` in a warm worker; its exit status, or None when no worker took it."""
    path = current_socket()
    if path is None:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    with sock:
        with _stdio_fds() as fds:
            try:
                send_message(sock, _run_request(argv), fds)
                reply, _ = receive_message(sock)
            except OSError:
                return None  # the worker went away before the run began: run it here
        pid = reply.get("pid")
        if not isinstance(pid, int):
            return None
        with _forwarding_signals(pid):
            try:
                status, _ = receive_message(sock)
            except OSError:
                print("tide: the worker stopped during the run", file=sys.stderr)
                return 1
        return int(status.get("exit", 1))


def request(path: Path, message: dict[str, Any], *, timeout_s: float = 5.0) -> dict[str, Any]:
    """One request to the worker at ``path`` and its reply (``OSError`` if none)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        sock.connect(str(path))
        send_message(sock, message)
        reply, _ = receive_message(sock)
        return reply


def _run_request(argv: list[str]) -> dict[str, Any]:
    umask = os.umask(0o022)
    os.umask(umask)
    stdout = sys.stdout
    return {
        "op": "run",
        "argv": argv,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "umask": umask,
        "encoding": getattr(stdout, "encoding", None) or "utf-8",
        "errors": getattr(stdout, "errors", None) or "strict",
    }


@contextmanager
def _stdio_fds() -> Iterator[list[int]]:
    """Descriptors 0, 1 and 2, with /dev/null standing in for any that is closed."""
    opened: list[int] = []
    fds = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            stand_in = os.open(os.devnull, os.O_RDWR)
            opened.append(stand_in)
            fds.append(stand_in)
    try:
        yield fds
    finally:
        for fd in opened:
            os.close(fd)


@contextmanager
def _forwarding_signals(pid: int) -> Iterator[None]:
    """Signals sent to the command act on the child that runs it."""

    def forward(signum: int, _frame: FrameType | None) -> None:
        # The child may have just ended: its status is then on its way.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    def suspend(_signum: int, _frame: FrameType | None) -> None:
        # Ctrl-Z: the run stops with the command, and both go on when the shell resumes it.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)
        signal.signal(signal.SIGTSTP, suspend)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)

    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED_SIGNALS}
    previous[signal.SIGTSTP] = signal.signal(signal.SIGTSTP, suspend)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
