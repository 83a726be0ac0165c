"""A failed model call is said in a sentence a user understands; the provider's text stays in
the error's ``detail``. Against the scripted server, as LiteLLM reports each fault."""

from __future__ import annotations

import pytest

from runtime import MemoryHandler, Runtime
from runtime.model_server import Reply, Script
from tests.helpers import source

pytestmark = pytest.mark.anyio

TEXT = (
    'w = Agent { model = "scripted/default", retries = 0 }\n'
    'Procedure { function(input) return { r = w("hi").output } end }\n'
)


@pytest.mark.parametrize(
    ("reply", "said", "raw"),
    [
        (Reply(tokens=10, malformed_after_tokens=3), "malformed chunk", "Unterminated string"),
        (Reply(status=503, error="upstream overloaded"), "server error (HTTP 503)", "overloaded"),
        (Reply(status=401, error="bad key"), "check the API key", "bad key"),
        (Reply(status=404, error="no such model"), "rejected the request", "no such model"),
    ],
)
async def test_model_errors_are_explained(reply: Reply, said: str, raw: str) -> None:
    async with Runtime() as runtime:
        server = await runtime.scripted_server()
        server.script.extend(Script(replies=[reply]))
        memory = MemoryHandler()
        result = await runtime.run(source(TEXT), handlers=[memory])
    assert result.error is not None
    assert said in result.error.message
    assert "litellm" not in result.error.message and "Exception" not in result.error.message
    assert result.error.detail is not None and raw in result.error.detail
    assert memory.events[-1].error.detail == result.error.detail
