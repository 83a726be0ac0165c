"""``Lifetime``: an object whose background work lasts from ``async with`` to its end.

What it opens goes on ``_stack`` and its tasks run in ``_services``, a task group that is
cancelled, then closed with everything else, when the ``async with`` ends.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Self

import anyio
from anyio.abc import TaskGroup


class Lifetime:
    def __init__(self) -> None:
        self._stack = AsyncExitStack()
        self._services: TaskGroup | None = None

    async def _open(self) -> None:
        """What must be open before the task group starts (put on ``_stack``)."""

    async def __aenter__(self) -> Self:
        await self._open()
        self._services = await self._stack.enter_async_context(anyio.create_task_group())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._services is not None:
            self._services.cancel_scope.cancel()
        await self._stack.aclose()
        self._services = None
