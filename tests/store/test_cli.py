from __future__ import annotations

import json
import socket
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from runtime.cli import main
from runtime.store import SQLiteStore, StoreHandler
from tests.store.events import RunBuilder
from tests.store.test_store import dead_pid

HELLO = """
writer = Agent { model = "scripted/default", system_prompt = "Greet." }
Mocks { writer = { message = "Hello there, Ada. Nice to meet you." } }
Procedure {
  input = { name = field.string{ required = true } },
  function(input)
    return { greeting = writer("Greet " .. input.name).message }
  end
}
"""


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "hello.tac").write_text(HELLO)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_tide_run_records_runs_that_tide_runs_lists_and_replays(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "hello.tac", "--mock", "-p", "name=Ada", "-q"]) == 0
    assert main(["run", "hello.tac", "--mock", "-q"]) == 2  # missing input: nothing starts
    assert main(["run", "hello.tac", "--mock", "-p", "name=Bo", "-q", "--no-store"]) == 0
    assert (workspace / ".tide" / "runs.db").is_file()

    runs = run_json(capsys, "runs", "--json")
    assert isinstance(runs, list) and len(runs) == 1
    (run,) = runs
    assert run["procedure"] == "hello.tac"
    assert run["status"] == "completed"
    assert run["inputs"] == {"name": "Ada"}
    assert run["mock"] is True

    assert main(["runs"]) == 0
    listing = capsys.readouterr().out
    assert run["id"] in listing and "completed" in listing

    assert main(["runs", "show", run["id"][:6]]) == 0
    replay = capsys.readouterr().out
    assert "Hello there, Ada. Nice to meet you." in replay
    assert "✓ completed" in replay

    shown = run_json(capsys, "runs", "show", run["id"], "--json")
    assert isinstance(shown, dict)
    assert shown["run"]["output"] == {"greeting": "Hello there, Ada. Nice to meet you."}
    types = [e["type"] for e in shown["events"]]
    assert types[0] == "run_started" and types[-1] == "run_completed"
    assert all("accumulated_text" not in e for e in shown["events"])

    assert run_json(capsys, "runs", "--status", "failed", "--json") == []
    assert main(["runs", "show", "nope"]) == 2


def test_tide_stats(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("Ada", "Bo"):
        assert main(["run", "hello.tac", "--mock", "-p", f"name={name}", "-q"]) == 0
    stats = run_json(capsys, "stats", "--json")
    assert stats == {"by": "model", "since": "7d", "rows": []}  # mock runs are left out
    stats = run_json(capsys, "stats", "--by", "agent", "--include-mock", "--since", "all", "--json")
    assert isinstance(stats, dict)
    (row,) = stats["rows"]
    assert row["key"] == "writer" and row["count"] == 2
    assert set(row["ttft_ms"]) == {"avg", "p50", "p95"}
    # A mocked reply streams at once: its first visible token is its first token.
    assert row["first_visible_token_ms"]["p50"] is not None
    assert set(row["cost_usd"]) == {"avg", "p50", "p95", "sum"}
    assert main(["stats", "--by", "agent", "--include-mock", "--since", "all"]) == 0
    assert "first visible p50/p95" in capsys.readouterr().out
    assert main(["stats", "--by", "procedure", "--include-mock"]) == 0
    assert "hello.tac" in capsys.readouterr().out
    assert main(["stats", "--since", "soon"]) == 2


def test_an_empty_workspace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--workspace", str(tmp_path)]) == 0
    assert "no runs recorded" in capsys.readouterr().out
    assert run_json(capsys, "stats", "--workspace", str(tmp_path), "--json") == {
        "by": "model",
        "since": "7d",
        "rows": [],
    }
    assert not (tmp_path / ".tide").exists()


def test_tide_runs_show_ends_an_interrupted_run_with_its_failure(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run whose process was killed mid-turn: `tide runs show` (a process opening the store)
    prints what was kept, then the failure that ended it, with its partial text."""
    store = SQLiteStore.for_workspace(workspace)
    handler = StoreHandler(store, model="m/one")
    for event in RunBuilder("r1").started().turn("writer", "Half a sent", finish=False).events:
        handler.log(event)
    store.close()
    with closing(sqlite3.connect(store.path)) as conn, conn:
        conn.execute("UPDATE runs SET owner = ?", (f"{socket.gethostname()}:{dead_pid()}",))
    capsys.readouterr()
    assert main(["runs", "show", "r1"]) == 0
    shown = capsys.readouterr().out
    assert "Half a sent" in shown
    assert "✗ failed the process running this run stopped" in shown
    assert "partial text kept (11 characters)" in shown
    assert "the run is" not in shown  # it is not left 'running'
    assert "the run can be resumed: tide runs resume r1" in shown
    run = run_json(capsys, "runs", "show", "r1", "--json")
    assert isinstance(run, dict)
    assert run["run"]["resumable"] is True
    assert run["events"][-1]["type"] == "run_failed"
    assert run["run"]["partial_text"] == "Half a sent"
    assert run["run"]["duration_ms"] > 0
