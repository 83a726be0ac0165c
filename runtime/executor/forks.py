"""One fork server, from its host's side: the process, its control socket, and the requests
that start and kill executors."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
from collections.abc import Sequence
from typing import Any

import anyio
import anyio.to_thread
from anyio.abc import UNIXSocketStream

from runtime.executor.spec import RunSpec
from runtime.own_python import module_command, module_environment
from runtime.wire import send_message

# How long closing waits for the fork server to exit before killing it.
STOP_GRACE_S = 5.0
# The fork server kills an executor this long after the host would have.
BACKSTOP_S = 1.0


class ForkServerProcess:
    """``python -m runtime.executor``; with ``models``, the model libraries are set up in it
    before it serves. Its executors take up to ``runs_per_executor`` runs of one procedure once
    ``shared_from`` of its runs are going (``runtime.executor.server``)."""

    def __init__(
        self, *, models: bool = False, runs_per_executor: int = 1, shared_from: int = 0
    ) -> None:
        self.models = models
        self.runs_per_executor = runs_per_executor
        self.shared_from = shared_from
        self._control: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._ready = False
        self._ready_lock = anyio.Lock()

    def open(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        command = module_command("runtime.executor", str(theirs.fileno()))
        if self.models:
            command.append("--models")
        command.append(f"--runs-per-executor={self.runs_per_executor}")
        command.append(f"--shared-from={self.shared_from}")
        env = module_environment()
        # Few malloc arenas: executors have few threads, and each arena reserves address space.
        env.setdefault("MALLOC_ARENA_MAX", "2")
        env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        self._process = subprocess.Popen(command, pass_fds=[theirs.fileno()], env=env)
        theirs.close()
        self._control = ours

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    async def aclose(self) -> None:
        control, self._control = self._control, None
        if control is not None:
            control.close()  # the fork server kills its executors and exits
        process = self._process
        if process is not None:
            try:
                await anyio.to_thread.run_sync(process.wait, STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                await anyio.to_thread.run_sync(process.wait)

    def _send(self, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
        if self._control is None:
            raise RuntimeError("the executor pool is not running")
        with self._lock:
            send_message(self._control, message, fds)

    async def ready(self) -> None:
        """Wait until the fork server is warm (once)."""
        async with self._ready_lock:
            if self._ready or self._control is None:
                return
            control = self._control
            if await anyio.to_thread.run_sync(control.recv, 1) != b"r":
                raise RuntimeError("the executor fork server did not start")
            self._ready = True

    async def start(self, spec: RunSpec) -> tuple[UNIXSocketStream, socket.socket]:
        """An executor for ``spec``: its stream, and the raw socket (for ``cancel``)."""
        if not self._ready:
            await self.ready()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # A backstop for a host that is gone: the host itself stops it sooner.
            seconds = spec.time_allowed() + BACKSTOP_S
            message = {
                "op": "start",
                "run": spec.run_id,
                "kind": spec.kind,
                "group": spec.executor_group(),
                "seconds": seconds,
            }
            self._send(message, [theirs.fileno()])
        finally:
            theirs.close()
        stream = await UNIXSocketStream.from_socket(ours)
        await stream.send(spec.model_dump_json().encode() + b"\n")
        return stream, ours

    def kill(self, run_id: str) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            self._send({"op": "kill", "run": run_id})
