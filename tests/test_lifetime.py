"""``Lifetime``: what an object opens lasts as long as its ``async with``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from runtime.lifetime import Lifetime

pytestmark = pytest.mark.anyio


class Owner(Lifetime):
    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    async def _open(self) -> None:
        await self._stack.enter_async_context(self._resource())

    @asynccontextmanager
    async def _resource(self) -> AsyncIterator[None]:
        self.log.append("opened")
        try:
            yield
        finally:
            self.log.append("closed")

    def start(self) -> None:
        assert self._services is not None
        self._services.start_soon(self._work)

    async def _work(self) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            self.log.append("task cancelled")


async def test_tasks_end_before_what_was_opened_for_them_closes() -> None:
    log: list[str] = []
    async with Owner(log) as owner:
        owner.start()
        await anyio.sleep(0)
        assert log == ["opened"]
    assert log == ["opened", "task cancelled", "closed"]
    assert owner._services is None
