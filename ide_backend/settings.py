"""The IDE server's settings."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from runtime.config import RuntimeConfig
from runtime.executor.pool import RUNS_PER_EXECUTOR

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_BODY_BYTES = 1024 * 1024


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_frontend_dir() -> Path:
    """``frontend/dist`` next to the package, where ``npm run build`` puts the IDE."""
    return Path(__file__).resolve().parent.parent / "frontend" / "dist"


@dataclass
class Settings:
    workspace: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # Required (and checked on every request) when set; the CLI sets one off loopback.
    token: str | None = None
    max_concurrent: int = 4
    frontend_dir: Path = field(default_factory=default_frontend_dir)
    max_body_bytes: int = MAX_BODY_BYTES
    # Events a watcher may fall behind by before it is told to reconnect (``lagged``).
    max_backlog: int = 10_000
    keepalive_s: float = 15.0
    # Each run, and each reading of a file's declarations, in an executor process that is
    # killed when it overstays its time or a cancel. False runs them in the server's own
    # process, trusting the procedures: one that loops inside Lua's C library holds the server.
    executors: bool = True
    # Runs of one procedure that share an executor at once, once many of its runs are going
    # (``runtime.executor.pool.SHARED_FROM``; 1: a process for every run). A run stopped by
    # force takes the others of its procedure in its executor with it.
    runs_per_executor: int = RUNS_PER_EXECUTOR
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig.from_env)

    def __post_init__(self) -> None:
        self.workspace = Path(self.workspace).resolve()
        if self.max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        if self.runs_per_executor < 1:
            raise ValueError("runs_per_executor must be at least 1")
