"""Questions whose timeout passes while the IDE runs: answered with their default, and their
run resumed (the default is the answer the procedure asked for)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Protocol

import anyio

from runtime.store import ExecutionStore
from runtime.store.journal import RequestMismatch, is_expired

log = logging.getLogger("tide.ide")
# How often the IDE looks for questions whose timeout has passed.
TIMEOUT_POLL_S = 1.0


class Resumes(Protocol):
    """What answers and resumes runs (the run manager)."""

    store: ExecutionStore

    async def resume(self, run_id: str) -> Any: ...


async def watch_timeouts(manager: Resumes) -> None:
    """Answer with its default each question whose timeout has passed, and resume its run."""
    if manager.store.readonly:
        return  # nothing can be answered in a history that cannot be written
    while True:
        await anyio.sleep(TIMEOUT_POLL_S)
        try:
            await _answer_expired(manager)
        except Exception:
            log.exception("could not apply the defaults of timed-out questions")


async def _answer_expired(manager: Resumes) -> None:
    now = datetime.now(UTC)
    for record in await manager.store.list_runs(status="waiting", limit=500):
        for request in record.pending:
            if not is_expired(request, now):
                continue
            try:
                await manager.store.answer_request(
                    record.id, request["request_id"], request.get("default"), "default"
                )
            except RequestMismatch:
                continue  # answered meanwhile
            await manager.resume(record.id)
            break
