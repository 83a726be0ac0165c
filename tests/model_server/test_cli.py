"""``tide model-server``."""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMAND = ROOT / "runtime" / "cli" / "model_server.py"

# Loaded from its file so that the test does not depend on the rest of the ``tide`` CLI package.
LAUNCHER = f"""
import argparse, importlib.util, sys
spec = importlib.util.spec_from_file_location("model_server_command", {str(COMMAND)!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
parser = argparse.ArgumentParser(prog="tide")
module.register(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.handler(args))
"""


def load_command() -> ModuleType:
    spec = importlib.util.spec_from_file_location("model_server_command", COMMAND)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tide")
    load_command().register(parser.add_subparsers())
    return parser.parse_args(argv)


def test_options_and_defaults() -> None:
    args = parse("model-server")
    assert (args.host, args.port, args.script, args.rate) == ("127.0.0.1", 8000, None, None)
    args = parse(
        "model-server", "--host", "0.0.0.0", "--port", "0", "--script", "s.json", "--rate", "25"
    )
    assert (args.host, args.port, args.script, args.rate) == ("0.0.0.0", 0, "s.json", 25.0)
    assert callable(args.handler)


def test_only_argparse_is_imported_at_module_level() -> None:
    tree = ast.parse(COMMAND.read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported == {"__future__", "argparse"}


def test_an_invalid_script_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "script.json"
    script.write_text('{"replies": [{"text": "a", "tokens": 1}]}', encoding="utf-8")
    args = parse("model-server", "--port", "0", "--script", str(script))
    assert args.handler(args) == 2
    assert "cannot use script" in capsys.readouterr().err
    missing = parse("model-server", "--script", str(tmp_path / "missing.json"))
    assert missing.handler(missing) == 2


def test_serves_a_script_file_until_interrupted(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"replies": ["From the file."]}), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, "model-server", "--port", "0", "--script", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        base_url = line.split()[-1]
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        answer = httpx.post(f"{base_url}/chat/completions", json=body, timeout=10).json()
        assert answer["choices"][0]["message"]["content"] == "From the file."
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
