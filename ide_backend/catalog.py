"""What the workspace's procedures are: whether each file validates, and the models its agents
name. Kept per file and recomputed only when the file's mtime or size changes.

A file is checked by running its top level (see ``Validator``), which may take up to its time
limit. A listing waits for the checks it needs for at most ``LISTING_WAIT_S``: a file still
being checked then is listed as not judged yet (``valid`` None), its check goes on in the
background, and a later listing has its result. So one file whose top level never ends delays
no listing for long, and the other files' results do not wait for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import TracebackType

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup

from ide_backend.errors import ApiError
from ide_backend.validator import Validator
from ide_backend.workspace import FileInfo, Workspace

log = logging.getLogger("tide.ide")
# The longest a listing waits for the files it has to check.
LISTING_WAIT_S = 2.0


@dataclass(frozen=True)
class Validity:
    valid: bool | None
    errors: int
    models: tuple[str, ...] = ()


NOT_JUDGED = Validity(None, 0)


@dataclass
class _Check:
    mtime_ns: int
    size: int
    done: anyio.Event
    result: Validity = NOT_JUDGED

    def fits(self, info: FileInfo) -> bool:
        return (self.mtime_ns, self.size) == (info.mtime_ns, info.size)


class Catalog:
    """``async with Catalog(...)``: its checks run in its own task group."""

    def __init__(self, workspace: Workspace, *, timeout_s: float, validator: Validator):
        self.workspace = workspace
        self.timeout_s = timeout_s
        self.validator = validator
        self._checks: dict[str, _Check] = {}
        self._group: TaskGroup | None = None

    async def __aenter__(self) -> Catalog:
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._group is not None
        self._group.cancel_scope.cancel()
        await self._group.__aexit__(kind, exc, tb)
        self._group = None

    async def files(self) -> list[tuple[FileInfo, Validity]]:
        infos = await anyio.to_thread.run_sync(self.workspace.list_files)
        checks = [self._check(info) for info in infos]
        await self.validator.ready()
        with anyio.move_on_after(LISTING_WAIT_S):
            for check in checks:
                await check.done.wait()
        present = {info.path for info in infos}
        for path in [p for p in self._checks if p not in present]:
            del self._checks[path]
        return [(info, check.result) for info, check in zip(infos, checks, strict=True)]

    def _check(self, info: FileInfo) -> _Check:
        """The file's check: done, going on, or started now."""
        check = self._checks.get(info.path)
        if check is None or not check.fits(info):
            if self._group is None:
                raise RuntimeError("the catalog is not open")
            check = self._checks[info.path] = _Check(info.mtime_ns, info.size, anyio.Event())
            self._group.start_soon(self._run, info.path, check)
        return check

    async def _run(self, path: str, check: _Check) -> None:
        try:
            check.result = await self._validate(path)
        except Exception:
            log.exception("could not check %s", path)
            if self._checks.get(path) is check:
                del self._checks[path]  # the next listing tries again
        finally:
            check.done.set()

    async def _validate(self, path: str) -> Validity:
        try:
            source = await anyio.to_thread.run_sync(self.workspace.source, path)
        except ApiError:
            # Too large, binary or gone: not a procedure the IDE can judge.
            return NOT_JUDGED
        report = await self.validator.validate(source, self.timeout_s)
        errors = sum(1 for d in report["diagnostics"] if d["severity"] == "error")
        procedure = report.get("procedure") or {}
        models = tuple(sorted({a["model"] for a in procedure.get("agents", []) if a["model"]}))
        return Validity(bool(report["ok"]), errors, models)

    async def models(self) -> list[str]:
        """Every model named by an agent in the workspace (of the files checked by now)."""
        await self.files()
        return sorted({m for check in self._checks.values() for m in check.result.models})
