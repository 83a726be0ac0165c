"""Where workers listen, and which commands a worker may serve."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.own_python import RUNTIME_PARENT
from runtime.worker import WorkerDirError, fingerprint, socket_path, worker_dir
from runtime.worker._paths import DIR_ENV


def test_fingerprint_is_stable_and_follows_import_time_settings() -> None:
    base = {"HOME": "/home/ada", "OPENAI_API_KEY": "sk-1"}
    assert fingerprint(base) == fingerprint(dict(base))
    # Read at call time: a worker serves commands that differ in them.
    assert fingerprint(base) == fingerprint({**base, "OPENAI_API_KEY": "sk-2", "TERM": "xterm"})
    # Read while LiteLLM and DSPy are imported: a worker imported them under other values.
    assert fingerprint(base) != fingerprint({**base, "LITELLM_LOG": "DEBUG"})
    assert fingerprint(base) != fingerprint({**base, "DSPY_CACHEDIR": "/tmp/x"})
    assert fingerprint(base) != fingerprint({**base, "PYTHONPATH": "/opt/lib"})
    # The runtime's own directory, which a worker started from a checkout is given, is not.
    own = os.pathsep.join([RUNTIME_PARENT, "/opt/lib"])
    assert fingerprint({**base, "PYTHONPATH": RUNTIME_PARENT}) == fingerprint(base)
    assert fingerprint({**base, "PYTHONPATH": own}) == fingerprint(
        {**base, "PYTHONPATH": "/opt/lib"}
    )


def test_worker_dir_is_created_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "workers"
    monkeypatch.setenv(DIR_ENV, str(target))
    assert worker_dir(create=True) == target
    assert target.stat().st_mode & 0o777 == 0o700
    assert socket_path(target, "abc").name == "worker-abc.sock"


def test_worker_dir_others_can_use_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    monkeypatch.setenv(DIR_ENV, str(shared))
    with pytest.raises(WorkerDirError, match="only you can use"):
        worker_dir()


def test_worker_dir_symlink_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    monkeypatch.setenv(DIR_ENV, str(link))
    with pytest.raises(WorkerDirError):
        worker_dir()


def test_missing_worker_dir_is_not_created_by_lookups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DIR_ENV, str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError):
        worker_dir()
    assert not (tmp_path / "absent").exists()
