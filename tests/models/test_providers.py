"""A provider served on this machine is one entry in ``LOCAL_PROVIDERS``: the command line, the
IDE's model picker and the credential check all pick a new entry up."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from ide_backend.app import create_app
from ide_backend.server import running_server
from ide_backend.settings import Settings
from runtime.api import Runtime
from runtime.cli import run_cli
from runtime.errors import ConfigurationError
from runtime.inspect import inspect_procedure
from runtime.model_server import Reply, Script, ScriptedModelServer
from runtime.models.providers import (
    LOCAL_PROVIDERS,
    LocalProvider,
    Served,
    ServerOptions,
    example_models,
    split_model,
)
from runtime.source import ProcedureSource

PROCEDURE = """
writer = Agent { model = "nearby/echo", system_prompt = "You write." }
Procedure {
  output = { text = field.string{ required = true } },
  function(input)
    return { text = writer("Write.").output }
  end
}
"""
ANSWER = "A reply from the server next door."


@asynccontextmanager
async def serve_nearby(options: ServerOptions) -> AsyncIterator[Served]:
    async with ScriptedModelServer(Script(replies=[Reply(text=ANSWER, repeat=True)])) as server:
        yield Served(server.base_url, server)


@pytest.fixture
def nearby(monkeypatch: pytest.MonkeyPatch) -> LocalProvider:
    provider = LocalProvider("nearby", "nearby/echo", "a server next door", serve_nearby)
    monkeypatch.setitem(LOCAL_PROVIDERS, "nearby", provider)
    for name in ("OPENAI_API_KEY", "TIDE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    return provider


def test_a_new_entry_runs_from_the_command_line(
    nearby: LocalProvider,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("writer.tac").write_text(PROCEDURE)
    assert run_cli(["run", "writer.tac", "--json", "--quiet", "--no-store"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["output"] == {"text": ANSWER}
    with pytest.raises(SystemExit):
        run_cli(["run", "--help"])
    assert "nearby/echo" in capsys.readouterr().out


@pytest.mark.anyio
async def test_a_new_entry_is_offered_by_the_ide_model_picker(
    nearby: LocalProvider, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    app = create_app(Settings(workspace=workspace, frontend_dir=tmp_path / "no-frontend"))
    async with running_server(app) as url, httpx.AsyncClient(base_url=url) as client:
        models = (await client.get("/api/models")).json()["models"]
    assert "nearby/echo" in models
    assert set(example_models()) <= set(models)


@pytest.mark.anyio
async def test_a_new_entry_needs_no_credentials(nearby: LocalProvider) -> None:
    info = inspect_procedure(ProcedureSource(PROCEDURE, "writer.tac"))
    async with Runtime() as runtime:
        await runtime.check_models(info, None)
        await runtime.check_models(info, "nearby/anything")
        with pytest.raises(ConfigurationError) as caught:
            await runtime.check_models(info, "openai/gpt-4o-mini")
    assert "--model nearby/echo (a server next door)" in caught.value.message


def test_model_names_name_their_provider() -> None:
    assert split_model("local/smollm2") == ("local", "smollm2")
    with pytest.raises(ConfigurationError) as caught:
        split_model("smollm2")
    assert caught.value.hint is not None and '"scripted/default"' in caught.value.hint
