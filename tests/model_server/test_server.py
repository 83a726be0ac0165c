"""The server inside another program: it serves, and leaves that program's signals alone."""

from __future__ import annotations

import signal

import httpx
import pytest

from runtime.model_server import ScriptedModelServer

pytestmark = pytest.mark.anyio


async def test_serving_leaves_the_programs_signal_handlers_alone() -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    async with ScriptedModelServer() as server:
        async with httpx.AsyncClient() as client:
            models = await client.get(f"{server.base_url}/models")
        assert models.status_code == 200
        # A Ctrl-C during a run must reach the run at once, not wait for the server to drain.
        assert {sig: signal.getsignal(sig) for sig in before} == before
    assert {sig: signal.getsignal(sig) for sig in before} == before
