"""The workspace on disk: procedure files under one directory, and nothing outside it.

Every path comes from the client as workspace-relative text with ``/`` separators. It is
refused, before anything touches the disk, when it is empty, absolute, has ``..``, ``.`` or
empty segments, a backslash, a NUL byte or another control character, names a hidden file or folder (``.tide``,
``.git``), or does not end in ``.tac`` or ``.lua``; and after resolving symlinks when the file
(or the folder it is in) lies outside the workspace or is not a procedure file there.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ide_backend.errors import ApiError
from runtime.source import ProcedureSource

SUFFIXES = (".tac", ".lua")
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "dist", "build"})
MAX_FILES = 5_000
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The longest file or folder name most file systems take, in bytes.
NAME_MAX = 255


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    mtime_ns: int

    @property
    def modified(self) -> str:
        return iso_mtime(self.mtime_ns)


@dataclass(frozen=True)
class Resolved:
    rel: str
    # Where the content is (symlinks followed) and where the directory entry is (the link
    # itself, if it is one): reads and writes go to ``target``, renames and deletes to ``entry``.
    target: Path
    entry: Path


def iso_mtime(mtime_ns: int) -> str:
    return datetime.fromtimestamp(mtime_ns / 1e9, UTC).isoformat()


class Workspace:
    def __init__(self, root: Path, *, max_bytes: int) -> None:
        self.root = root.resolve()
        self.max_bytes = max_bytes

    # -- paths ------------------------------------------------------------------------------

    def check(self, rel: object) -> str:
        """The path if its text is acceptable (no disk access); else a 400."""
        if not isinstance(rel, str) or not rel:
            raise ApiError(400, "a file path is required", "bad_path")
        if "\0" in rel:
            raise ApiError(400, "the path contains a NUL byte", "bad_path")
        if _CONTROL.search(rel):
            # A line break in a name would forge lines in logs, listings and terminals.
            raise ApiError(400, "the path contains a control character", "bad_path")
        if "\\" in rel:
            raise ApiError(400, "use / to separate folders, not \\", "bad_path")
        if rel.startswith("/") or _DRIVE.match(rel):
            raise ApiError(400, "the path must be relative to the workspace", "bad_path")
        if len(rel) > 1024:
            raise ApiError(400, "the path is too long", "bad_path")
        parts = rel.split("/")
        try:
            sizes = [len(part.encode("utf-8")) for part in parts]
        except UnicodeEncodeError:
            raise ApiError(400, "the path is not valid Unicode text", "bad_path") from None
        if max(sizes) > NAME_MAX:
            raise ApiError(400, f"a file or folder name is over {NAME_MAX} bytes", "bad_path")
        if any(part in ("", ".", "..") for part in parts):
            raise ApiError(400, f"'{rel}' has an empty, '.' or '..' segment", "bad_path")
        if any(part.startswith(".") for part in parts):
            raise ApiError(
                400, "hidden files and folders are not part of the workspace", "bad_path"
            )
        if not rel.endswith(SUFFIXES):
            raise ApiError(400, "only .tac and .lua files can be opened here", "bad_path")
        return rel

    def resolve(self, rel: object) -> Resolved:
        checked = self.check(rel)
        candidate = self.root / checked
        try:
            parent = candidate.parent.resolve()
            target = candidate.resolve()
        except (OSError, RuntimeError):  # a loop of links (RuntimeError before Python 3.13)
            raise ApiError(400, f"'{checked}' is a loop of links", "bad_path") from None
        for path in (parent, target):
            inside = self._inside(path)
            if inside is None:
                raise ApiError(403, f"'{checked}' leads outside the workspace", "outside_workspace")
            if inside != "." and any(p.startswith(".") for p in inside.split("/")):
                raise ApiError(403, f"'{checked}' leads to a hidden file", "outside_workspace")
        if not target.name.endswith(SUFFIXES):
            raise ApiError(403, f"'{checked}' is a link to a file that is not a procedure")
        return Resolved(checked, target, parent / candidate.name)

    def _inside(self, path: Path) -> str | None:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return None

    # -- reading ----------------------------------------------------------------------------

    def list_files(self) -> list[FileInfo]:
        found: list[FileInfo] = []
        for directory, dirs, names in os.walk(self.root, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
            for name in sorted(names):
                if name.startswith(".") or not name.endswith(SUFFIXES):
                    continue
                rel = Path(directory, name).relative_to(self.root).as_posix()
                try:
                    resolved = self.resolve(rel)
                    info = resolved.target.stat()
                except (ApiError, OSError):
                    continue
                if stat.S_ISREG(info.st_mode):
                    found.append(FileInfo(rel, info.st_size, info.st_mtime_ns))
                if len(found) >= MAX_FILES:
                    return found
        return found

    def read(self, rel: object) -> tuple[Resolved, str, int]:
        """The file, its text and its mtime in ns."""
        resolved = self.resolve(rel)
        try:
            info = resolved.target.stat()
        except FileNotFoundError:
            raise ApiError(404, f"no file '{resolved.rel}'") from None
        if not stat.S_ISREG(info.st_mode):
            raise ApiError(404, f"'{resolved.rel}' is not a file")
        if info.st_size > self.max_bytes:
            raise ApiError(413, f"'{resolved.rel}' is larger than {self.max_bytes // 1024} KiB")
        data = resolved.target.read_bytes()
        if b"\0" in data:
            raise ApiError(400, f"'{resolved.rel}' is a binary file, not a procedure")
        try:
            return resolved, data.decode("utf-8"), info.st_mtime_ns
        except UnicodeDecodeError as exc:
            raise ApiError(400, f"'{resolved.rel}' is not UTF-8 text (byte {exc.start})") from None

    def source(self, rel: object, text: str | None = None) -> ProcedureSource:
        """A procedure source named by its workspace path: the file's text, or ``text``."""
        if text is None:
            resolved, text, _ = self.read(rel)
        else:
            resolved = self.resolve(rel)
        return ProcedureSource(
            text=text.removeprefix("\ufeff"),  # a byte-order mark is not Lua
            display_name=resolved.rel,
            path=resolved.target,
            project_root=resolved.target.parent,
        )

    # -- writing ----------------------------------------------------------------------------

    def write(self, rel: object, content: str, *, create: bool = False) -> tuple[str, int]:
        """Write the file (atomically); with ``create``, 409 if it exists. Returns (path, mtime)."""
        resolved = self.resolve(rel)
        data = self._encode(content)
        exists = resolved.entry.exists() or resolved.entry.is_symlink()
        if create and exists:
            raise ApiError(409, f"'{resolved.rel}' already exists", "exists")
        if exists and not resolved.target.is_file():
            raise ApiError(409, f"'{resolved.rel}' is not a regular file", "not_a_file")
        resolved.target.parent.mkdir(parents=True, exist_ok=True)
        if create:
            try:
                fd = os.open(resolved.target, _NEW | os.O_EXCL, 0o666)
            except FileExistsError:
                raise ApiError(409, f"'{resolved.rel}' already exists", "exists") from None
            with os.fdopen(fd, "wb") as file:
                file.write(data)
        else:
            self._replace(resolved.target, data, exists)
        return resolved.rel, resolved.target.stat().st_mtime_ns

    @staticmethod
    def _replace(target: Path, data: bytes, exists: bool) -> None:
        """Write through a temporary file, so that a reader never sees half a file."""
        mode = stat.S_IMODE(target.stat().st_mode) if exists else None
        temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            with os.fdopen(os.open(temp, _NEW | os.O_EXCL, 0o666), "wb") as file:
                file.write(data)
            if mode is not None:
                os.chmod(temp, mode)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)

    def rename(self, source: object, destination: object) -> str:
        old = self.resolve(source)
        new = self.resolve(destination)
        if not (old.entry.exists() or old.entry.is_symlink()):
            raise ApiError(404, f"no file '{old.rel}'")
        if new.entry.exists() or new.entry.is_symlink():
            raise ApiError(409, f"'{new.rel}' already exists", "exists")
        new.entry.parent.mkdir(parents=True, exist_ok=True)
        os.rename(old.entry, new.entry)
        return new.rel

    def delete(self, rel: object) -> None:
        resolved = self.resolve(rel)
        if not (resolved.entry.exists() or resolved.entry.is_symlink()):
            raise ApiError(404, f"no file '{resolved.rel}'")
        if resolved.entry.is_dir():
            raise ApiError(409, f"'{resolved.rel}' is a folder", "not_a_file")
        resolved.entry.unlink()

    def _encode(self, content: object) -> bytes:
        if not isinstance(content, str):
            raise ApiError(422, "'content' must be a string")
        if "\0" in content:
            raise ApiError(400, "the content contains a NUL byte; procedures are text")
        try:
            data = content.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(400, "the content is not valid Unicode text") from None
        if len(data) > self.max_bytes:
            raise ApiError(413, f"the file would be larger than {self.max_bytes // 1024} KiB")
        return data


# A file is never opened through a symlink planted after the path was checked.
_NEW = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
