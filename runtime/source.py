"""Reading a procedure's source, with clear errors for everything that is not one."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import ProcedureLoadError

MAX_SOURCE_BYTES = 4 * 1024 * 1024
SUFFIXES = (".tac", ".lua")


@dataclass(frozen=True)
class ProcedureSource:
    text: str
    display_name: str
    path: Path | None = None
    project_root: Path | None = None

    @property
    def name(self) -> str:
        return self.path.stem if self.path else self.display_name

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> ProcedureSource:
        file = Path(path)
        if not file.exists():
            raise ProcedureLoadError(
                f"{file}: no such file", hint="check the path; procedures end in .tac or .lua"
            )
        if file.is_dir():
            raise ProcedureLoadError(
                f"{file} is a directory, not a procedure file", hint="give a .tac or .lua file"
            )
        size = file.stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise ProcedureLoadError(f"{file} is larger than 4 MiB; that is not a procedure")
        data = file.read_bytes()
        if b"\0" in data or data.startswith(b"\x1bLua"):
            raise ProcedureLoadError(f"{file} is a binary file, not Lua source")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProcedureLoadError(f"{file} is not UTF-8 text (byte {exc.start})") from None
        if not text.strip():
            raise ProcedureLoadError(
                f"{file} is empty", hint="a procedure declares agents and a Procedure { ... }"
            )
        display = _display_path(file)
        return cls(
            text=text, display_name=display, path=file.resolve(), project_root=file.resolve().parent
        )

    @classmethod
    def from_text(
        cls, text: str, name: str = "<source>", project_root: Path | None = None
    ) -> ProcedureSource:
        if not text.strip():
            raise ProcedureLoadError(
                f"{name} is empty", hint="a procedure declares agents and a Procedure { ... }"
            )
        return cls(text=text, display_name=name, project_root=project_root)

    @classmethod
    def load(cls, path_or_source: str | os.PathLike[str]) -> ProcedureSource:
        """A path to a file, or (when it contains a newline or is not a path) Lua source."""
        if isinstance(path_or_source, os.PathLike):
            return cls.from_path(path_or_source)
        text = str(path_or_source)
        if "\n" not in text and (text.endswith(SUFFIXES) or os.path.exists(text)):
            return cls.from_path(text)
        return cls.from_text(text)


def _display_path(file: Path) -> str:
    """A short name for messages: relative to the working directory when inside it."""
    try:
        return str(file.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(file)
