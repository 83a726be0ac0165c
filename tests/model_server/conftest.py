from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

# Must be set before litellm is first imported, or it fetches its price list from the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx
import pytest

from runtime.model_server import ScriptedModelServer


@dataclass
class Exchange:
    """One raw chat completion request and what came back."""

    status: int
    headers: httpx.Headers
    raw: str

    @property
    def events(self) -> list[str]:
        """The data of every SSE event, in order."""
        return [
            block.removeprefix("data: ")
            for block in self.raw.split("\n\n")
            if block.startswith("data: ")
        ]

    @property
    def chunks(self) -> list[dict[str, Any]]:
        return [json.loads(event) for event in self.events if event != "[DONE]"]

    @property
    def done(self) -> bool:
        return self.events[-1:] == ["[DONE]"]

    @property
    def deltas(self) -> list[dict[str, Any]]:
        return [c["choices"][0]["delta"] for c in self.chunks if c["choices"]]

    @property
    def text(self) -> str:
        return "".join(delta.get("content") or "" for delta in self.deltas)

    @property
    def finish_reasons(self) -> list[str]:
        return [
            c["choices"][0]["finish_reason"]
            for c in self.chunks
            if c["choices"] and c["choices"][0]["finish_reason"] is not None
        ]

    @property
    def usage(self) -> dict[str, int] | None:
        found = [c["usage"] for c in self.chunks if c.get("usage")]
        assert len(found) <= 1
        return found[0] if found else None

    def json(self) -> Any:
        return json.loads(self.raw)


Chat = Callable[..., Awaitable[Exchange]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def server() -> AsyncIterator[ScriptedModelServer]:
    async with ScriptedModelServer() as running:
        yield running


@pytest.fixture
async def http(server: ScriptedModelServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url.removesuffix("/v1"), timeout=10) as c:
        yield c


@pytest.fixture
def chat(http: httpx.AsyncClient) -> Chat:
    """Post a chat completion (streamed unless ``stream=False``) and read all of the answer."""

    async def post(content: str = "Hello there", **body: Any) -> Exchange:
        payload = {
            "model": "tide-scripted",
            "messages": [{"role": "user", "content": content}],
            "stream": True,
            **body,
        }
        response = await http.post("/v1/chat/completions", json=payload)
        return Exchange(response.status_code, response.headers, response.text)

    return post
