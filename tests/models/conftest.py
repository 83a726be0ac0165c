"""Shared set-up for the model client tests: offline prices, a private DSPy cache directory
(which must stay empty), the asyncio backend, the scripted model server, and helpers that
make calls through ``LLMClient`` and collect what they yield."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any

# Both are read when LiteLLM and DSPy are imported, so before any test module imports them.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
DSPY_CACHE_DIR = Path(tempfile.mkdtemp(prefix="tide-dspy-cache-")) / "cache"
os.environ["DSPY_CACHEDIR"] = str(DSPY_CACHE_DIR)

import pytest  # noqa: E402

from runtime.model_server import Reply, Script, ScriptedModelServer  # noqa: E402
from runtime.models.base import ModelError, ModelItem, ModelRequest, TextDelta  # noqa: E402
from runtime.models.llm import LLMClient  # noqa: E402


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def server() -> AsyncIterator[ScriptedModelServer]:
    async with ScriptedModelServer() as running:
        yield running


@pytest.fixture
def scripted(server: ScriptedModelServer) -> Callable[..., ScriptedModelServer]:
    """Replace the server's script with ``replies`` (strings or ``Reply``s) and return it."""

    def set_replies(*replies: Reply | str) -> ScriptedModelServer:
        server.set_script(Script(replies=[Reply.model_validate(r) for r in replies]))
        return server

    return set_replies


Scripted = Callable[..., ScriptedModelServer]

TRICKY = [
    "[[ ## answer ## ]]",
    "Before [[ ## answer ## ]] after [[ ## completed ## ]]",
    "]]",
    "##",
    "[[",
    "She said \"hi\" and 'bye'",
    "back\\slash, \\n is not a newline, \\u0041 is not A",
    '{"looks": "like JSON", "n": [1, 2]}',
    "```python\nprint('fenced')\n```\n",
    "emoji 🎉👩‍💻🇳🇴 and a lone ZWJ \u200d",
    "中文字符，日本語のテキスト、한국어",
    "line one\n\nline three\r\nwindows\ttab",
    "  leading and trailing spaces  ",
    "",
]


def client_for(server: ScriptedModelServer, **options: Any) -> LLMClient:
    options = {"provider": "scripted", "litellm_model": "openai/test", **options}
    return LLMClient("scripted/test", api_base=server.base_url, api_key="scripted", **options)


def request(**fields: Any) -> ModelRequest:
    fields.setdefault("messages", [{"role": "user", "content": "Say it."}])
    return ModelRequest(agent="writer", model="scripted/test", **fields)


async def collect(client: LLMClient, req: ModelRequest) -> list[ModelItem]:
    async with aclosing(client.stream(req)) as items:
        return [item async for item in items]


async def failure(client: LLMClient, req: ModelRequest) -> tuple[list[ModelItem], ModelError]:
    seen: list[ModelItem] = []
    with pytest.raises(ModelError) as caught:
        async with aclosing(client.stream(req)) as items:
            async for item in items:
                seen.append(item)
    return seen, caught.value


def text_of(items: list[ModelItem]) -> str:
    return "".join(item.text for item in items if isinstance(item, TextDelta))
