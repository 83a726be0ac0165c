"""What the workspace's procedures are: whether each file validates, and the models its agents
name. Kept per file and recomputed only when the file's mtime or size changes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import anyio
import anyio.to_thread

from ide_backend.errors import ApiError
from ide_backend.workspace import FileInfo, Workspace
from runtime.validate import validate_source


@dataclass(frozen=True)
class Validity:
    valid: bool | None
    errors: int
    models: tuple[str, ...] = ()


class Catalog:
    def __init__(self, workspace: Workspace, *, timeout_s: float, limiter: anyio.CapacityLimiter):
        self.workspace = workspace
        self.timeout_s = timeout_s
        # Validation runs procedure code (to read its declarations) in worker threads.
        self.limiter = limiter
        self._cache: dict[str, tuple[int, int, Validity]] = {}

    async def files(self) -> list[tuple[FileInfo, Validity]]:
        infos = await anyio.to_thread.run_sync(self.workspace.list_files)
        results: dict[str, Validity] = {}

        async def check(info: FileInfo) -> None:
            results[info.path] = await self.validity(info)

        async with anyio.create_task_group() as group:
            for info in infos:
                group.start_soon(check, info)
        present = {info.path for info in infos}
        for path in [p for p in self._cache if p not in present]:
            del self._cache[path]
        return [(info, results[info.path]) for info in infos]

    async def validity(self, info: FileInfo) -> Validity:
        cached = self._cache.get(info.path)
        if cached is not None and cached[:2] == (info.mtime_ns, info.size):
            return cached[2]
        async with self.limiter:
            result = await anyio.to_thread.run_sync(partial(self._validate, info.path))
        self._cache[info.path] = (info.mtime_ns, info.size, result)
        return result

    def _validate(self, path: str) -> Validity:
        try:
            source = self.workspace.source(path)
        except ApiError:
            # Too large, binary or gone: not a procedure the IDE can judge.
            return Validity(None, 0)
        report = validate_source(source, timeout_s=self.timeout_s)
        errors = sum(1 for d in report.diagnostics if d.severity == "error")
        models = (
            tuple(sorted({a.model for a in report.info.agents if a.model})) if report.info else ()
        )
        return Validity(report.ok, errors, models)

    async def models(self) -> list[str]:
        """Every model named by an agent in the workspace."""
        await self.files()
        return sorted({m for _, _, v in self._cache.values() for m in v.models})
