"""``File`` and the ``tactus.io.*`` modules: files in the procedure's own folder, and nowhere else.

A path is relative to the folder the procedure file is in. Absolute paths, ``..``, and paths that
a symbolic link takes out of the folder are refused; so is the workspace's ``.tide`` store. A read
is refused above the run's memory limit, and a run writes at most that much in all.
"""

from __future__ import annotations

import csv
import glob as globbing
import io
import json
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from runtime.errors import DeclarationError

IO_MODULES = frozenset(
    {"tactus.io.json", "tactus.io.csv", "tactus.io.tsv", "tactus.io.file", "tactus.io.fs"}
)
PRIVATE_FOLDERS = frozenset({".tide", ".git"})


class Files:
    def __init__(self, root: Path | None, max_bytes: Callable[[], int]) -> None:
        self.root = root.resolve() if root is not None else None
        self._max_bytes = max_bytes
        self.written = 0

    @property
    def max_bytes(self) -> int:
        """The run's memory limit, which also caps what it reads and writes."""
        return self._max_bytes()

    # -- dispatch -----------------------------------------------------------------------------

    def call(self, namespace: str, function: str, args: list[Any]) -> Any:
        what = f"{namespace}.{function}"
        if namespace in ("File", "tactus.io.file"):
            if function == "read":
                return self.read_text(what, args)
            if function == "write":
                self.write_text(what, _path_arg(what, args), _text(what, args[1:]))
                return True
            if function == "exists":
                return self.exists(what, args)
            return self._existing(what, _path_arg(what, args)).stat().st_size
        if namespace == "tactus.io.json":
            return self._json(what, function, args)
        if namespace in ("tactus.io.csv", "tactus.io.tsv"):
            delimiter = "," if namespace.endswith("csv") else "\t"
            if function == "read":
                return read_table(self.read_text(what, args), delimiter, _options(args, 1))
            rows = args[1] if len(args) > 1 else None
            text = write_table(what, rows, delimiter, _options(args, 2))
            self.write_text(what, _path_arg(what, args), text)
            return True
        if function == "list_dir":
            return self.list_dir(what, _path_arg(what, args, "."), _options(args, 1))
        return self.glob(what, _path_arg(what, args), _options(args, 1))

    def _json(self, what: str, function: str, args: list[Any]) -> Any:
        if function == "encode":
            indent = args[1] if len(args) > 1 and isinstance(args[1], int) else None
            return json.dumps(args[0] if args else None, indent=indent, ensure_ascii=False)
        if function == "decode":
            return _decode(what, args[0] if args else None)
        if function == "read":
            return _decode(what, self.read_text(what, args))
        indent = args[2] if len(args) > 2 and isinstance(args[2], int) else 2
        data = args[1] if len(args) > 1 else None
        self.write_text(
            what, _path_arg(what, args), json.dumps(data, indent=indent, ensure_ascii=False)
        )
        return True

    # -- paths ----------------------------------------------------------------------------------

    def resolve(self, what: str, written: str) -> Path:
        """The real path for ``written``, which must stay inside the procedure's folder."""
        if self.root is None:
            raise DeclarationError(
                f"{what}: this procedure has no folder, so it cannot use files",
                hint="run a procedure file (not source text) to read and write files",
            )
        if not written or "\x00" in written:
            raise DeclarationError(f"{what}: the path is empty or not text")
        posix, windows = PurePosixPath(written), PureWindowsPath(written)
        if posix.is_absolute() or windows.is_absolute() or windows.drive:
            raise DeclarationError(
                f"{what}: '{written}' is an absolute path",
                hint="paths are relative to the procedure's folder",
            )
        parts = written.replace("\\", "/").split("/")
        if ".." in parts:
            raise DeclarationError(
                f"{what}: '{written}' goes up with '..'; files must stay in the procedure's folder"
            )
        if parts[0] in PRIVATE_FOLDERS:
            raise DeclarationError(
                f"{what}: '{written}' is inside {parts[0]}, which procedures cannot use"
            )
        target = (self.root / written).resolve()
        if not target.is_relative_to(self.root):
            raise DeclarationError(
                f"{what}: '{written}' leads outside the procedure's folder (through a symbolic link)"
            )
        return target

    def _existing(self, what: str, written: str) -> Path:
        path = self.resolve(what, written)
        if not path.is_file():
            raise DeclarationError(f"{what}: no file '{written}' in the procedure's folder")
        return path

    def _relative(self, path: Path) -> str | None:
        assert self.root is not None
        real = path.resolve()
        if not real.is_relative_to(self.root):
            return None
        relative = real.relative_to(self.root).as_posix()
        return None if relative.split("/")[0] in PRIVATE_FOLDERS else relative

    # -- reading and writing --------------------------------------------------------------------

    def read_text(self, what: str, args: list[Any]) -> str:
        written = _path_arg(what, args)
        path = self._existing(what, written)
        size = path.stat().st_size
        if size > self.max_bytes:
            raise DeclarationError(
                f"{what}: '{written}' is {size} bytes, more than the run's memory limit ({self.max_bytes})"
            )
        with path.open("rb") as handle:
            data = handle.read(self.max_bytes + 1)
        return data.decode("utf-8", errors="replace")

    def write_text(self, what: str, written: str, text: str) -> None:
        data = text.encode("utf-8")
        if self.written + len(data) > self.max_bytes:
            raise DeclarationError(
                f"{what}: a run may write at most {self.max_bytes} bytes (its memory limit)"
            )
        path = self.resolve(what, written)
        if path.is_dir():
            raise DeclarationError(f"{what}: '{written}' is a folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        # A link planted while the folders were made must not redirect the write.
        if not path.parent.resolve().is_relative_to(self.root or path.parent):
            raise DeclarationError(f"{what}: '{written}' leads outside the procedure's folder")
        path.write_bytes(data)
        self.written += len(data)

    def exists(self, what: str, args: list[Any]) -> bool:
        written = _path_arg(what, args)
        try:
            return self.resolve(what, written).exists()
        except DeclarationError:
            if self.root is None:
                raise
            return False

    def list_dir(self, what: str, written: str, options: dict[str, Any]) -> list[str]:
        folder = self.root if written in ("", ".") else self.resolve(what, written)
        assert folder is not None
        if not folder.is_dir():
            raise DeclarationError(f"{what}: no folder '{written}' in the procedure's folder")
        return self._select(list(folder.iterdir()), options)

    def glob(self, what: str, pattern: str, options: dict[str, Any]) -> list[str]:
        self.resolve(what, pattern.replace("*", "x").replace("?", "x"))
        assert self.root is not None
        recursive = bool(options.get("recursive", False))
        found = globbing.glob(pattern, root_dir=self.root, recursive=recursive)
        return self._select([self.root / name for name in found], options)

    def _select(self, paths: list[Path], options: dict[str, Any]) -> list[str]:
        dirs_only = bool(options.get("dirs_only", False))
        files_only = bool(options.get("files_only", not dirs_only))
        chosen = []
        for path in paths:
            relative = self._relative(path)
            if relative is None:
                continue
            if (files_only and not path.is_file()) or (dirs_only and not path.is_dir()):
                continue
            chosen.append(relative)
        return sorted(chosen) if options.get("sort", True) else chosen


# -- csv and tsv -------------------------------------------------------------------------------


def read_table(text: str, delimiter: str, options: dict[str, Any]) -> list[dict[str, str]]:
    """Rows as tables of strings, keyed by the first row (or by ``headers`` when given)."""
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    headers = options.get("headers")
    if isinstance(headers, list) and headers:
        names = [str(h) for h in headers]
    elif rows:
        names, rows = rows[0], rows[1:]
    else:
        return []
    return [
        {name: (row[i] if i < len(row) else "") for i, name in enumerate(names)} for row in rows
    ]


def write_table(what: str, rows: Any, delimiter: str, options: dict[str, Any]) -> str:
    if isinstance(rows, dict) and not rows:
        rows = []
    if not isinstance(rows, list) or not rows:
        raise DeclarationError(f"{what} expects a non-empty list of rows")
    headers = options.get("headers")
    if isinstance(headers, list) and headers:
        names = [str(h) for h in headers]
    elif isinstance(rows[0], dict):
        names = sorted(str(k) for k in rows[0])
    else:
        names = []
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    if names:
        writer.writerow(names)
    for row in rows:
        if isinstance(row, dict):
            writer.writerow([_cell(row.get(name)) for name in names])
        elif isinstance(row, list):
            writer.writerow([_cell(v) for v in row])
        else:
            raise DeclarationError(f"{what}: each row must be a table")
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# -- arguments ---------------------------------------------------------------------------------


def _path_arg(what: str, args: list[Any], default: str | None = None) -> str:
    value = args[0] if args else default
    if value is None:
        value = default
    if not isinstance(value, str):
        raise DeclarationError(f"{what} expects a path (a string) first")
    return value


def _text(what: str, args: list[Any]) -> str:
    value = args[0] if args else None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _cell(value)
    raise DeclarationError(f"{what} expects the text to write (a string) after the path")


def _options(args: list[Any], index: int) -> dict[str, Any]:
    value = args[index] if len(args) > index else None
    return value if isinstance(value, dict) else {}


def _decode(what: str, text: Any) -> Any:
    if not isinstance(text, str):
        raise DeclarationError(f"{what} expects a JSON string")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DeclarationError(
            f"{what}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
