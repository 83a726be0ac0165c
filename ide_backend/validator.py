"""Checking a procedure for the editor and the file list: ``tide validate``'s report.

Reading a file's declarations runs its top level, which is the procedure's own code. With
executors it runs in an executor process, killed when it overstays its time limit, so a top
level stuck in a call into Lua's C library costs that file an error and holds nothing of the
server; without, in a thread of the server, trusting the file.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio
import anyio.to_thread

from runtime.config import RuntimeConfig
from runtime.executor import ExecutorPool
from runtime.source import ProcedureSource
from runtime.validate import validate_source

# Checks at once: each is a process (or a thread) running a file's top level.
CONCURRENT_CHECKS = 4


class Validator:
    def __init__(self, config: RuntimeConfig, executors: ExecutorPool | None) -> None:
        self.config = config
        self.executors = executors
        self.limiter = anyio.CapacityLimiter(CONCURRENT_CHECKS)

    async def ready(self) -> None:
        """Wait until checks can start (the executors' fork server has started)."""
        if self.executors is not None:
            await self.executors.ready()

    async def validate(self, source: ProcedureSource, timeout_s: float) -> dict[str, Any]:
        """The report (``ValidationReport.describe()``): ``ok``, ``diagnostics``,
        ``procedure``. The top level is cut short after ``timeout_s``."""
        async with self.limiter:
            if self.executors is not None:
                config = self.config.model_copy(update={"inspect_timeout_s": timeout_s})
                return await self.executors.validate(source, config)
            check = partial(validate_source, source, timeout_s=timeout_s)
            report = await anyio.to_thread.run_sync(check)
            return report.describe()
