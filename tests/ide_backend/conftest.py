from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ide_backend.app import create_app
from ide_backend.server import running_server
from ide_backend.services import Services
from ide_backend.settings import Settings

HELLO = """
writer = Agent { model = "scripted/default", system_prompt = "You greet people." }
Mocks { writer = { message = "Hello there, friend. This is a mocked greeting." } }
Procedure {
  input = { name = field.string{ required = true, description = "who to greet" } },
  output = { greeting = field.string{} },
  function(input)
    return { greeting = writer("Greet " .. input.name).message }
  end
}
"""

ESSAY = """
writer = Agent { model = "scripted/default", system_prompt = "You write at length." }
Procedure {
  input = { topic = field.string{ default = "tides" } },
  function(input)
    return { text = writer("Write about " .. input.topic).message }
  end
}
"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "hello.tac").write_text(HELLO)
    (root / "essay.tac").write_text(ESSAY)
    return root


@dataclass
class Ide:
    url: str
    client: httpx.AsyncClient
    services: Services

    async def start(self, path: str = "essay.tac", **body: Any) -> str:
        response = await self.client.post("/api/runs", json={"path": path, "inputs": {}, **body})
        assert response.status_code == 201, response.text
        run_id: str = response.json()["run_id"]
        return run_id


IdeFactory = Callable[..., AbstractAsyncContextManager[Ide]]


@pytest.fixture
def make_ide(workspace: Path, tmp_path: Path) -> IdeFactory:
    @asynccontextmanager
    async def start(**settings: Any) -> AsyncIterator[Ide]:
        settings.setdefault("frontend_dir", tmp_path / "no-frontend")
        app = create_app(Settings(workspace=workspace, **settings))
        async with running_server(app) as url:
            headers = (
                {"Authorization": f"Bearer {settings['token']}"} if "token" in settings else {}
            )
            async with httpx.AsyncClient(base_url=url, timeout=30, headers=headers) as client:
                yield Ide(url, client, app.state.services)

    return start


@pytest.fixture
async def ide(make_ide: IdeFactory) -> AsyncIterator[Ide]:
    async with make_ide() as started:
        yield started
