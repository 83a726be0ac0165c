"""docs/architecture.md stays true: every file it names exists, every owner it names in the
chunk table is defined in that step's files, and the README links to it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
# A backticked path: a top-level folder of the repository, then more.
PATH = re.compile(
    r"`((?:runtime|ide_backend|frontend|tests|docs|bench|scripts|procedures)/[^`\s]*)`"
)


def named_paths(text: str) -> set[str]:
    return set(PATH.findall(text))


def test_every_file_the_architecture_names_exists() -> None:
    names = named_paths(DOC.read_text("utf-8"))
    assert len(names) > 20
    missing = sorted(name for name in names if not (ROOT / name).exists())
    assert missing == []


def test_every_owner_in_the_chunk_table_is_in_its_files() -> None:
    rows = [
        line
        for line in DOC.read_text("utf-8").splitlines()
        if line.startswith("| ") and not line.startswith("| step") and "`" in line
    ]
    assert len(rows) >= 10
    for row in rows:
        _, files, owners = (cell.strip() for cell in row.strip("|").split(" | "))
        text = "".join((ROOT / path).read_text("utf-8") for path in named_paths(files))
        for owner in re.findall(r"`([^`]+)`", owners):
            for part in owner.split("."):
                assert re.search(rf"\b{re.escape(part)}\b", text), (owner, files)


def test_the_readme_links_to_it() -> None:
    assert "docs/architecture.md" in (ROOT / "README.md").read_text("utf-8")


def test_the_path_pattern_finds_paths() -> None:
    assert named_paths("see `runtime/bus.py` and `frontend/src/` but not `bus.py`") == {
        "runtime/bus.py",
        "frontend/src/",
    }
