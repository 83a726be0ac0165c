"""``Procedure.run("other.tac", inputs)``: run a procedure of another file of the project.

The file is found like ``require`` finds modules: inside the procedure's folder, never outside
it. It runs as a run of its own (its own sandbox, inputs checked, output validated) within the
calling run, which sees its agents' events and pays its costs. ``Procedure.run("name", ...)``
with the name of a sub-procedure of the same file calls that one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.errors import DeclarationError, ProcedureLoadError
from runtime.journal import journaled

if TYPE_CHECKING:
    from runtime.library._host import LibraryHost

MAX_DEPTH = 8


def run(host: LibraryHost, args: list[Any]) -> Any:
    name = args[0] if args else None
    inputs = args[1] if len(args) > 1 and args[1] is not None else {}
    if not isinstance(name, str) or not name:
        raise DeclarationError(
            'Procedure.run expects a file name, e.g. Procedure.run("other.tac", {...})'
        )
    if isinstance(inputs, list) and not inputs:
        inputs = {}
    if not isinstance(inputs, dict):
        raise DeclarationError("Procedure.run: the inputs must be a table of named values")
    local = next((p for p in host.declarations.procedures.values() if p.name == name), None)
    if local is not None:
        return host.call_subprocedure(local, inputs)
    path = find_file(host, name)
    start = getattr(host.effects, "run_procedure", None)
    if start is None:
        raise DeclarationError("Procedure.run is not available here")
    # A resumed run takes a finished nested run's output from the journal.
    relative = path.relative_to(host.source.project_root.resolve()).as_posix()  # type: ignore[union-attr]
    return journaled(host.effects, "procedure", relative, inputs, lambda: start(path, inputs))


def find_file(host: LibraryHost, name: str) -> Path:
    root = host.source.project_root
    if root is None:
        raise ProcedureLoadError(f"Procedure.run('{name}'): this procedure has no project folder")
    root = root.resolve()
    written = name.removeprefix("./")
    if Path(written).is_absolute() or ".." in written.replace("\\", "/").split("/"):
        raise ProcedureLoadError(
            f"Procedure.run('{name}'): procedures are found inside the project folder only",
            hint='give a path relative to this procedure\'s folder, e.g. "helpers/summarize.tac"',
        )
    candidates = [root / written]
    if not written.endswith((".tac", ".lua")):
        candidates += [root / f"{written}.tac", root / f"{written}.lua"]
    for candidate in candidates:
        if not candidate.is_file():
            continue
        resolved = candidate.resolve()
        if not resolved.is_relative_to(root):
            raise ProcedureLoadError(
                f"Procedure.run('{name}'): it resolves outside the project folder"
            )
        return resolved
    raise ProcedureLoadError(
        f"Procedure.run('{name}'): no procedure file '{written}' in the project folder",
        hint=f"looked in {root}",
    )
