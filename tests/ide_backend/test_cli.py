"""``tide ide`` as a user starts it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.ide_backend.conftest import HELLO

ROOT = Path(__file__).resolve().parents[2]


def start_ide(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "runtime", "ide", "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(2)]
    found = re.search(r"http://\S+", "".join(lines))
    assert found, lines
    return process, found.group()


@pytest.mark.timeout(60)
def test_tide_ide_serves_a_workspace_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    (tmp_path / "hello.tac").write_text(HELLO)
    process, url = start_ide("--workspace", str(tmp_path))
    try:
        assert url.startswith("http://127.0.0.1:") and "token" not in url
        files = httpx.get(url + "api/files", timeout=10).json()["files"]
        assert [f["path"] for f in files] == ["hello.tac"]
        run = httpx.post(
            url + "api/runs",
            json={"path": "hello.tac", "inputs": {"name": "Ada"}, "mock": True},
            timeout=10,
        )
        assert run.status_code == 201
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(20)
    assert (tmp_path / ".tide" / "runs.db").is_file()


@pytest.mark.timeout(60)
def test_off_loopback_a_token_is_generated_and_printed(tmp_path: Path) -> None:
    process, url = start_ide("--workspace", str(tmp_path), "--host", "0.0.0.0")
    try:
        token = url.split("?token=")[1]
        assert len(token) >= 24
        base = url.split("?")[0].replace("0.0.0.0", "127.0.0.1")
        assert httpx.get(base + "api/health", timeout=10).status_code == 401
        authorized = httpx.get(
            base + "api/health", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert authorized.json()["ok"] is True
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(20)


def test_a_missing_workspace_is_a_usage_error(tmp_path: Path) -> None:
    from runtime.cli import main

    assert main(["ide", "--workspace", str(tmp_path / "nope")]) == 2


@pytest.mark.parametrize("token", ["", " "])
def test_an_empty_token_is_a_usage_error(tmp_path: Path, token: str) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "runtime", "ide", "--workspace", str(tmp_path)),
            *("--host", "0.0.0.0", "--port", "0", "--token", token),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    assert done.returncode == 2
    assert "--token is empty" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--port", "99999"),
        ("--port", "-1"),
        ("--port", "http"),
        ("--max-concurrent", "0"),
        ("--runs-per-executor", "0"),
    ],
)
def test_numeric_options_out_of_range_are_usage_errors(
    tmp_path: Path, option: str, value: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "runtime", "ide", "--workspace", str(tmp_path), option, value],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    assert done.returncode == 2
    assert f"argument {option}" in done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
