"""Where a worker listens, and which code and settings it holds."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path

from runtime.own_python import RUNTIME_PARENT

# The directory of worker sockets and logs (default: $XDG_RUNTIME_DIR/tide, else
# <tmp>/tide-<uid>).
DIR_ENV = "TIDE_WORKER_DIR"
# Settings read while DSPy and LiteLLM are imported: a worker imported them under its own, so
# it may serve only commands that have the same.
IMPORT_TIME_ENV_PREFIXES = ("LITELLM_", "DSPY_", "PYTHON")

RUNTIME_ROOT = Path(__file__).resolve().parent.parent


class WorkerDirError(Exception):
    """The worker directory is not one only this user can use."""


def worker_dir(*, create: bool = False) -> Path:
    """The private directory of this user's workers (``FileNotFoundError`` if absent)."""
    configured = os.environ.get(DIR_ENV)
    if configured:
        path = Path(configured)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        path = Path(os.environ["XDG_RUNTIME_DIR"]) / "tide"
    else:
        import tempfile

        path = Path(tempfile.gettempdir()) / f"tide-{os.getuid()}"
    if create:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    # Whoever can write here could put a socket of their own in a worker's place and receive
    # the user's terminal and environment.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise WorkerDirError(
            f"{path} must be a directory that only you can use (owned by you, mode 700)"
        )
    return path


def socket_path(directory: Path, worker_fingerprint: str) -> Path:
    return directory / f"worker-{worker_fingerprint}.sock"


def fingerprint(environ: Mapping[str, str] | None = None) -> str:
    """What a worker must share with a command to run it: Python, Tide's files, the installed
    packages and the import-time settings."""
    environ = os.environ if environ is None else environ
    digest = hashlib.sha256()
    digest.update(f"{sys.executable}\n{sys.version}\n{RUNTIME_ROOT}\n".encode())
    for path in sorted(RUNTIME_ROOT.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        info = path.stat()
        digest.update(
            f"{path.relative_to(RUNTIME_ROOT)}:{info.st_mtime_ns}:{info.st_size}\n".encode()
        )
    # Installing, upgrading or removing a package adds or removes entries in its directory.
    for package in ("litellm", "dspy"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin is not None:
            packages_dir = Path(spec.origin).parent.parent
            digest.update(f"{packages_dir}:{packages_dir.stat().st_mtime_ns}\n".encode())
    for key in sorted(environ):
        if key.startswith(IMPORT_TIME_ENV_PREFIXES):
            value = environ[key]
            if key == "PYTHONPATH":
                # The runtime's own directory there (``runtime.own_python``) changes nothing
                # that its files, counted above, do not already say.
                entries = value.split(os.pathsep)
                value = os.pathsep.join(
                    e for e in entries if e and os.path.abspath(e) != RUNTIME_PARENT
                )
                if not value:
                    continue
            digest.update(f"{key}={value}\n".encode())
    return digest.hexdigest()[:16]
