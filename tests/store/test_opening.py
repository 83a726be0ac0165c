"""A history file that is not one, or that a procedure tried to fill with numbers JSON has not:
said plainly, never a traceback, and the history stays readable."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from runtime.cli import main
from runtime.store import SQLiteStore, default_store_path
from runtime.store.opening import StoreError, open_store
from runtime.store.readonly import ReadOnlyStore

NUMBER = """
Procedure {
  input = { x = field.number{ default = 1 } },
  function(input) return { x = input.x } end
}
"""


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "number.tac").write_text(NUMBER)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def corrupt(workspace: Path) -> Path:
    path = default_store_path(workspace)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database, whatever its name says" * 50)
    return path


@pytest.mark.parametrize("command", [["runs"], ["stats"], ["runs", "show", "abc"]])
def test_a_corrupt_history_is_a_clear_usage_error(
    workspace: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    corrupt(workspace)
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "is not a database Tide can read" in err
    assert "mv .tide/runs.db .tide/runs.db.broken" in err
    assert "internal error" not in err


def test_tide_ide_on_a_corrupt_history_says_what_to_do(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt(workspace)
    assert main(["ide", "--workspace", str(workspace), "--port", "0"]) == 2
    assert "move it aside" in capsys.readouterr().err


def test_tide_run_still_runs_without_a_usable_history(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt(workspace)
    assert main(["run", "number.tac", "-q"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"x": 1}
    assert "the run is not recorded" in captured.err and "move it aside" in captured.err


def test_a_read_only_history_says_so(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "number.tac", "-q"]) == 0

    def read_only(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(SQLiteStore, "__init__", read_only)
    with pytest.raises(StoreError, match="read-only") as caught:
        open_store(default_store_path(workspace))
    assert caught.value.hint is not None and "chmod u+w" in caught.value.hint
    capsys.readouterr()
    # What only reads it reads it as it is, and says so.
    assert main(["runs"]) == 0
    listed = capsys.readouterr()
    assert "number.tac" in listed.out and "completed" in listed.out
    assert "is read-only: shown as it is" in listed.err and "chmod u+w" in listed.err
    assert main(["stats", "--json"]) == 0
    assert main(["runs", "show", json.loads(run_ids(capsys))[0]]) == 0
    assert "✓ completed" in capsys.readouterr().out
    # What must write to it is refused, saying what to do.
    assert main(["runs", "resume", "abc"]) == 2
    assert "is read-only" in capsys.readouterr().err
    assert main(["run", "number.tac", "-q"]) == 0
    assert "the run is not recorded" in capsys.readouterr().err


def run_ids(capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["runs", "--json"]) == 0
    return json.dumps([run["id"] for run in json.loads(capsys.readouterr().out)])


def test_a_read_only_history_is_read_without_writing(workspace: Path) -> None:
    """Opened read-only, the file is not changed, even by a run whose process is gone."""
    assert main(["run", "number.tac", "-q"]) == 0
    path = default_store_path(workspace)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE runs SET status = 'running', owner = 'here:1'")
    before = path.read_bytes()
    store = ReadOnlyStore(path)
    (record,) = store.list_runs_sync(store._connect())
    assert record.status == "running" and store.readonly
    with pytest.raises(PermissionError, match="read-only"):
        store.record_run(record)
    store.close()
    assert path.read_bytes() == before


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_number_input_must_be_finite(
    workspace: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    assert main(["run", "number.tac", "-q", "-p", f"x={value}"]) == 2
    assert "x: Input should be a finite number" in capsys.readouterr().err


def test_numbers_json_has_not_never_break_the_history(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A history written before inputs were checked still reads as valid JSON everywhere."""
    assert main(["run", "number.tac", "-q"]) == 0
    path = default_store_path(workspace)
    with sqlite3.connect(path) as conn:
        conn.execute("""UPDATE runs SET inputs = '{"x": NaN}', output = '{"x": Infinity}'""")
    capsys.readouterr()
    assert main(["runs", "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out, parse_constant=pytest.fail)
    assert run["inputs"] == {"x": None}
    assert main(["runs", "show", run["id"], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out, parse_constant=pytest.fail)
    assert shown["run"]["output"] == {"x": None}
