"""Opening a workspace's store, with a message a user can act on when the file is not one."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from runtime.errors import ConfigurationError
from runtime.store.readonly import READ_ONLY_HINT, ReadOnlyStore
from runtime.store.sqlite import SQLiteStore


class StoreError(ConfigurationError):
    """The run history's file cannot be used: not a database, damaged, or not writable."""

    kind = "store"


def open_store(path: str | Path, **options: Any) -> SQLiteStore:
    """The store at ``path``; raises ``StoreError`` saying what is wrong and what to do."""
    path = Path(path)
    try:
        return SQLiteStore(path, **options)
    except sqlite3.DatabaseError as exc:
        raise store_error(path, exc) from None
    except OSError as exc:
        raise StoreError(
            f"cannot open the run history {path}: {exc.strerror or exc}",
            hint=f"check that {path.parent} is a folder you can write to",
        ) from None


class ReadOnlyHistory(StoreError):
    """The run history can be read but not written: nothing can be recorded in it."""

    kind = "read_only"


def open_history(path: str | Path) -> SQLiteStore:
    """The store at ``path`` to read: writable if it can be, else read-only (``readonly``).
    Raises ``StoreError`` for a file that is not a history at all."""
    path = Path(path)
    try:
        return open_store(path)
    except StoreError as exc:
        if not (path.is_file() and _not_writable(path, exc)):
            raise
    try:
        return ReadOnlyStore(path)
    except sqlite3.DatabaseError as exc:
        raise store_error(path, exc) from None


def refuse_read_only(store: object, what: str) -> None:
    """Raise ``ReadOnlyHistory`` when ``store`` cannot record ``what`` (a run, an answer)."""
    if getattr(store, "readonly", False):
        path = getattr(store, "path", "the run history")
        raise ReadOnlyHistory(
            f"the run history {path} is read-only: {what} cannot be recorded",
            hint=READ_ONLY_HINT.format(path=path),
        )


def read_only_note(path: Path, what: str) -> str:
    """What a command says when it reads a history it cannot write."""
    return (
        f"note: the run history {path} is read-only: {what}; runs whose process stopped are "
        f"not marked interrupted. To record runs, {READ_ONLY_HINT.format(path=path)}."
    )


def _not_writable(path: Path, exc: StoreError) -> bool:
    return "read-only" in exc.message or not (
        os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    )


def store_error(path: Path, exc: Exception) -> StoreError:
    text = str(exc)
    if "readonly" in text.replace(" ", "") or "read-only" in text:
        return StoreError(
            f"the run history {path} is read-only ({text})",
            hint=f"make it writable (chmod u+w {path}), or use --no-store to run without it; "
            "tide runs, tide stats and tide ide still read it",
        )
    if "locked" in text or "busy" in text:
        return StoreError(
            f"the run history {path} is locked by another program ({text})",
            hint="wait for it to finish, or use --no-store to run without it",
        )
    aside = path.with_name(path.name + ".broken")
    return StoreError(
        f"the run history {path} is not a database Tide can read ({text})",
        hint=f"move it aside (mv {path} {aside}); Tide then starts a new, empty history",
    )
