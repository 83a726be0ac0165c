"""File and the tactus.io.* modules: inside the procedure's folder, never outside it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime import RuntimeConfig
from tests.helpers import run, source

pytestmark = pytest.mark.anyio


def procedure(body: str) -> str:
    return f"Procedure {{\n  function(input)\n{body}\n  end\n}}\n"


async def run_in(folder: Path, body: str, **options: object) -> tuple[object, object]:
    result, _ = await run(source(procedure(body), root=folder), **options)  # type: ignore[arg-type]
    return result.output, result.error


async def test_file_global(tmp_path: Path) -> None:
    output, error = await run_in(
        tmp_path,
        """
    local wrote = File.write("out/notes/a.txt", "héllo")
    return { wrote = wrote, text = File.read("out/notes/a.txt"), exists = File.exists("out/notes/a.txt"),
             missing = File.exists("nope.txt"), size = File.size("out/notes/a.txt") }""",
    )
    assert error is None
    assert output == {"wrote": True, "text": "héllo", "exists": True, "missing": False, "size": 6}
    assert (tmp_path / "out/notes/a.txt").read_text(encoding="utf-8") == "héllo"


async def test_io_modules(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text('name,score\nada,3\n"b, c",4\n', encoding="utf-8")
    (tmp_path / "raw.tsv").write_text("x\t1\ny\t2\n", encoding="utf-8")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "one.md").write_text("1")
    (tmp_path / "docs" / "two.md").write_text("2")
    output, error = await run_in(
        tmp_path,
        """
    local json = require("tactus.io.json")
    local csv = require("tactus.io.csv")
    local tsv = require("tactus.io.tsv")
    local file = require("tactus.io.file")
    local fs = require("tactus.io.fs")
    json.write("data/x.json", { a = 1, list = { 1, 2 } })
    csv.write("out.csv", { { b = 2, a = "x" }, { a = "y", b = true } })
    tsv.write("out.tsv", { { k = "v" } }, { headers = { "k" } })
    file.write("plain.txt", "text")
    return {
      json = json.read("data/x.json"), encoded = json.decode(json.encode({ 1, 2 })),
      rows = csv.read("in.csv"), raw = tsv.read("raw.tsv", { headers = { "key", "value" } }),
      back = csv.read("out.csv"), tsv = file.read("out.tsv"), exists = file.exists("plain.txt"),
      docs = fs.list_dir("docs"), glob = fs.glob("docs/*.md"), all = fs.glob("**/*.md", { recursive = true }),
    }""",
    )
    assert error is None, error
    assert output["json"] == {"a": 1, "list": [1, 2]} and output["encoded"] == [1, 2]
    assert output["rows"] == [{"name": "ada", "score": "3"}, {"name": "b, c", "score": "4"}]
    assert output["raw"] == [{"key": "x", "value": "1"}, {"key": "y", "value": "2"}]
    assert output["back"] == [{"a": "x", "b": "2"}, {"a": "y", "b": "true"}]
    assert output["tsv"] == "k\nv\n" and output["exists"] is True
    assert output["docs"] == output["glob"] == output["all"] == ["docs/one.md", "docs/two.md"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ('File.read("/etc/passwd")', "is an absolute path"),
        ('File.read("../secret.txt")', "goes up with '..'"),
        ('File.write("a/../../x.txt", "x")', "goes up with '..'"),
        ('File.read("link/secret.txt")', "leads outside the procedure's folder"),
        ('File.read("escape.txt")', "leads outside the procedure's folder"),
        ('File.write(".tide/runs.db", "x")', "inside .tide"),
        ('File.read("missing.txt")', "no file 'missing.txt'"),
        ('require("tactus.io.fs").list_dir("link")', "leads outside"),
        ('require("tactus.io.json").decode("{")', "invalid JSON"),
        ('require("tactus.io.csv").write("x.csv", {})', "non-empty list of rows"),
    ],
)
async def test_paths_never_leave_the_folder(tmp_path: Path, call: str, message: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    folder = tmp_path / "proc"
    folder.mkdir()
    os.symlink(outside, folder / "link")
    os.symlink(outside / "secret.txt", folder / "escape.txt")
    _, error = await run_in(folder, f"    local r = {call}\n    return {{}}")
    assert error is not None and message in error.message, error  # type: ignore[attr-defined]
    assert error.line == 3  # type: ignore[attr-defined]
    assert not (tmp_path / "x.txt").exists()


async def test_sizes_are_capped_by_the_memory_limit(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_bytes(b"x" * (40 * 1024 * 1024))
    config = RuntimeConfig(max_memory=32 * 1024 * 1024)
    _, error = await run_in(tmp_path, '    File.read("big.txt")', config=config)
    assert error is not None and "more than the run's memory limit" in error.message  # type: ignore[attr-defined]
    body = (
        '    local s = string.rep("y", 12 * 1024 * 1024)\n'
        + "    for i = 1, 3 do File.write('w' .. i, s) end"
    )
    _, error = await run_in(tmp_path, body, config=config)
    assert error is not None and "may write at most" in error.message  # type: ignore[attr-defined]


async def test_source_text_without_a_folder_cannot_use_files() -> None:
    result, _ = await run(procedure('    File.read("a.txt")'))
    assert result.error is not None and "has no folder" in result.error.message


def test_validating_a_procedure_never_writes_a_file(tmp_path: Path) -> None:
    from runtime.validate import validate_source

    text = 'File.write("made.txt", "x")\n' + procedure("    return {}")
    report = validate_source(source(text, root=tmp_path))
    assert report.ok
    assert not (tmp_path / "made.txt").exists()
