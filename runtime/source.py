"""Reading a procedure's source, with clear errors for everything that is not one."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import ProcedureLoadError

MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")
MAX_MODULE_BYTES = 1024 * 1024

MAX_SOURCE_BYTES = 10 * 1024 * 1024
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
        text = read_text(file, str(file), MAX_SOURCE_BYTES)
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
        text = text.removeprefix("\ufeff")
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


def read_text(file: Path, name: str, limit: int) -> str:
    """A source file's text: a regular file (not a FIFO or a device, which could block or never
    end), at most ``limit`` bytes, UTF-8 with or without a byte-order mark."""
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ProcedureLoadError(f"{name}: cannot read it ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ProcedureLoadError(
                f"{name} is not a regular file", hint="give a .tac or .lua file"
            )
        if info.st_size > limit:
            raise ProcedureLoadError(
                f"{name} is larger than {limit // (1024 * 1024)} MiB; that is not a procedure"
            )
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ProcedureLoadError(
            f"{name} is larger than {limit // (1024 * 1024)} MiB; that is not a procedure"
        )
    if b"\0" in data or data.startswith(b"\x1bLua"):
        raise ProcedureLoadError(f"{name} is a binary file, not Lua source")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ProcedureLoadError(
            f"{name} is not UTF-8 text (byte {exc.start}, line {line})",
            hint="save the file as UTF-8",
        ) from None


def read_module(file: Path, module: str, limit: int) -> str:
    """A ``require``d module's text (see ``read_text``)."""
    return read_text(file, f"cannot require '{module}': {file.name}", limit)


def find_module(name: str, root: Path | None) -> tuple[str, str]:
    """What ``require(name)`` loads from the procedure's folder ``root``: the text of
    ``name``'s ``.tac`` or ``.lua`` file and its chunk name. Nothing outside ``root``."""
    if not MODULE_NAME.match(name):
        raise ProcedureLoadError(f"cannot require '{name}': module names are dotted identifiers")
    if root is None:
        raise ProcedureLoadError(f"cannot require '{name}': this procedure has no project folder")
    relative = Path(*name.split("."))
    for suffix in (".tac", ".lua"):
        candidate = (root / relative).with_suffix(suffix)
        if not candidate.exists():
            continue
        resolved = candidate.resolve()
        if not resolved.is_relative_to(root.resolve()):
            raise ProcedureLoadError(
                f"cannot require '{name}': it resolves outside the project folder"
            )
        text = read_module(resolved, name, MAX_MODULE_BYTES)
        return text, "@" + str(candidate.relative_to(root))
    raise ProcedureLoadError(
        f"module '{name}' not found",
        hint=f"looked for {relative}.tac and {relative}.lua under {root}",
    )
