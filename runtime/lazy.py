"""Packages whose public names are imported on first use.

A package's ``__init__`` lists its public names once, as imports under ``TYPE_CHECKING`` (where
type checkers see them); ``lazy_exports`` reads them from there and gives the module-level
``__getattr__``, ``__dir__`` and ``__all__`` that import each on first use. Importing a part of
such a package (``runtime.executor.watchdog``, the worker's client) then costs only that part:
what matters to ``tide``'s start-up.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _homes(init_file: str) -> dict[str, tuple[str, str]]:
    """Each public name: the module it comes from, and its name there."""
    tree = ast.parse(Path(init_file).read_text("utf-8"))
    homes: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    for alias in statement.names:
                        homes[alias.asname or alias.name] = (statement.module, alias.name)
    return homes


def lazy_exports(
    package: str, init_file: str, namespace: dict[str, Any], *extra: str
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for the package ``package`` whose ``__init__`` is
    ``init_file`` and whose globals are ``namespace``; ``extra``: names it defines itself."""
    homes = _homes(init_file)
    names = sorted([*homes, *extra])

    def getattr_(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home[0]), home[1])
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return names

    return getattr_, dir_, names
