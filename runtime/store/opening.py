"""Opening a workspace's store, with a message a user can act on when the file is not one."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from runtime.errors import ConfigurationError
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


def store_error(path: Path, exc: Exception) -> StoreError:
    text = str(exc)
    if "readonly" in text.replace(" ", "") or "read-only" in text:
        return StoreError(
            f"the run history {path} is read-only ({text})",
            hint=f"make it writable (chmod u+w {path}), or use --no-store to run without it",
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
