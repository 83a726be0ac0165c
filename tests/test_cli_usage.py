"""How ``tide`` treats a user's mistakes with its options and its output: usage errors (exit 2)
that name the option, errors that reach stderr even when quiet, a reader that goes away."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from runtime.cli import BUILTIN_COMMANDS, build_parser
from runtime.cli._common import NUMERIC_TYPES
from tests.test_cli import FILES, TIDE, tide


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-usage")
    for name, text in FILES.items():
        (root / name).write_text(text)
    return root


# -- quiet still reports failures -----------------------------------------------------------------


def test_quiet_prints_the_error_of_a_failed_run_on_stderr(workdir: Path) -> None:
    done = tide(workdir, "run", "runtime.tac", "-q", "--no-store")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "runtime.tac:4" in done.stderr and "it broke" in done.stderr


def test_quiet_reports_an_invalid_output(workdir: Path) -> None:
    done = tide(workdir, "run", "invalid_output.tac", "--quiet", "--no-store")
    assert done.returncode == 1
    assert "title" in done.stderr


# -- a closed pipe ----------------------------------------------------------------------------------


def test_a_reader_that_closes_the_pipe_ends_the_command_quietly(workdir: Path) -> None:
    for _ in range(3):
        assert tide(workdir, "run", "hello.tac", "--mock").returncode == 0
    # `tide runs show ID --json | head -1`: the reader goes away after the first line.
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "TIDE_WORKER": "off"}
    listing = tide(workdir, "runs", "--json")
    run_id = json.loads(listing.stdout)[0]["id"]
    for args in (["runs", "show", run_id, "--json"], ["runs", "--json"], ["events", "--schema"]):
        pipe = subprocess.Popen(
            [str(TIDE), *args], cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert pipe.stdout is not None and pipe.stderr is not None
        pipe.stdout.readline()
        pipe.stdout.close()
        stderr = pipe.stderr.read().decode()
        code = pipe.wait(60)
        assert "BrokenPipe" not in stderr and "Traceback" not in stderr, stderr
        assert "internal error" not in stderr, stderr
        assert code in (0, 141)


# -- --events ---------------------------------------------------------------------------------------


def test_an_unwritable_events_path_stops_the_run_before_it_starts(
    workdir: Path, tmp_path: Path
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        for target in (locked / "events.jsonl", tmp_path / "file.txt" / "events.jsonl"):
            (tmp_path / "file.txt").write_text("not a folder")
            done = tide(workdir, "run", "hello.tac", "--mock", "--events", str(target))
            if os.geteuid() == 0 and target.parent == locked:
                continue  # root writes anywhere
            assert done.returncode == 2, done.stdout + done.stderr
            assert "--events" in done.stderr and "cannot be written" in done.stderr
            assert "▶" not in done.stdout
    finally:
        locked.chmod(0o700)
    done = tide(workdir, "run", "hello.tac", "--mock", "--events", str(tmp_path))
    assert done.returncode == 2 and "is a folder" in done.stderr


def test_events_never_write_into_the_procedure_itself(workdir: Path) -> None:
    before = (workdir / "hello.tac").read_text()
    for target in ("hello.tac", "./hello.tac", str(workdir / "hello.tac")):
        done = tide(workdir, "run", "hello.tac", "--mock", "--events", target)
        assert done.returncode == 2
        assert "is the procedure itself" in done.stderr
    assert (workdir / "hello.tac").read_text() == before


def test_events_replace_the_file_unless_asked_to_append(workdir: Path, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("old line\n")
    assert tide(workdir, "run", "hello.tac", "--mock", "-q", "--events", str(path)).returncode == 0
    first = path.read_text().splitlines()
    assert "old line" not in first and json.loads(first[0])["type"] == "run_started"
    done = tide(
        workdir, "run", "hello.tac", "--mock", "-q", "--events", str(path), "--events-append"
    )
    assert done.returncode == 0
    both = path.read_text().splitlines()
    assert both[: len(first)] == first and len(both) == 2 * len(first)


# -- numeric options --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-1", "nan", "0", "inf", "soon"])
def test_an_invalid_timeout_is_a_usage_error(workdir: Path, value: str) -> None:
    done = tide(workdir, "run", "hello.tac", "--mock", f"--timeout={value}")
    assert done.returncode == 2
    assert "argument --timeout" in done.stderr
    assert "internal error" not in done.stderr


@pytest.mark.parametrize("value", ["-5", "abc", "0", "nan"])
def test_an_invalid_tide_timeout_is_a_usage_error(workdir: Path, value: str) -> None:
    env = {**os.environ, "TIDE_TIMEOUT": value, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run(
        [str(TIDE), "run", "hello.tac", "--mock"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "TIDE_TIMEOUT" in done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["runs", "--limit", "0"],
        ["runs", "--limit", "many"],
        ["test", ".", "--workers", "0"],
        ["test", ".", "--timeout", "-3"],
        ["model-server", "--port", "70000"],
        ["model-server", "--rate", "nan"],
        ["worker", "start", "--idle-exit", "-1"],
    ],
)
def test_every_command_checks_its_numbers(workdir: Path, args: list[str]) -> None:
    done = tide(workdir, *args)
    assert done.returncode == 2
    assert f"argument {args[-2]}" in done.stderr


def test_every_numeric_option_is_checked() -> None:
    """Any option that parses a number uses one of the checked parsers."""
    parser = build_parser()
    seen = []

    def walk(p: object) -> None:
        for action in p._actions:  # type: ignore[attr-defined]
            if action.type in (int, float):
                seen.append(action.option_strings)
            for child in getattr(action, "choices", None) or {}:
                if isinstance(action.choices, dict):
                    walk(action.choices[child])

    walk(parser)
    assert seen == []
    assert all(callable(check) for check in NUMERIC_TYPES)


# -- models checked before the run -----------------------------------------------------------------


def test_an_unknown_provider_stops_the_run_before_it_starts(workdir: Path) -> None:
    done = tide(workdir, "run", "hello.tac", "--model", "opnai/gpt-4o-mini")
    assert done.returncode == 2, done.stderr
    assert "unknown model provider 'opnai'" in done.stderr
    assert "did you mean openai" in done.stderr
    assert "▶" not in done.stdout


@pytest.mark.parametrize("content", [None, "not json", '{"replies": [{"txt": "x"}]}'])
def test_a_missing_or_invalid_script_stops_the_run_before_it_starts(
    workdir: Path, tmp_path: Path, content: str | None
) -> None:
    script = tmp_path / "script.json"
    if content is not None:
        script.write_text(content)
    env = {
        **os.environ,
        "TIDE_SCRIPTED_SCRIPT": str(script),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    done = subprocess.run(
        [str(TIDE), "run", "hello.tac", "--model", "scripted/default"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "TIDE_SCRIPTED_SCRIPT" in done.stderr and "Traceback" not in done.stderr
    assert "▶" not in done.stdout


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    return {
        name
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    }


def test_each_builtin_command_is_registered_by_the_module_named_for_it() -> None:
    for module_name in set(BUILTIN_COMMANDS.values()):
        parser = argparse.ArgumentParser()
        importlib.import_module(module_name).register(parser.add_subparsers())
        named = {command for command, home in BUILTIN_COMMANDS.items() if home == module_name}
        assert _commands(parser) == named, module_name


def test_a_command_builds_only_its_own_parser_and_help_shows_them_all() -> None:
    assert _commands(build_parser("run")) == {"run"}
    assert _commands(build_parser("stats")) == {"runs", "stats"}  # one module registers both
    assert set(BUILTIN_COMMANDS) <= _commands(build_parser())
    assert set(BUILTIN_COMMANDS) <= _commands(build_parser("no-such-command"))
