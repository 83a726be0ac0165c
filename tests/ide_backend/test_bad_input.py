"""The IDE's API answers bad input with a 4xx in its JSON error shape, never a 500."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.ide_backend.conftest import Ide

pytestmark = pytest.mark.anyio


def assert_client_error(response: object) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    assert 400 <= status < 500, (status, response.text)  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}


async def test_numbers_that_are_not_ascii_digits(ide: Ide) -> None:
    run_id = await ide.start("hello.tac", mock=True, inputs={"name": "Ada"})
    for response in [
        await ide.client.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": "²".encode()}),
        await ide.client.get(f"/api/runs/{run_id}/events?after=²"),
        await ide.client.get("/api/runs?limit=²"),
        await ide.client.get("/api/runs?limit=99999999999999999999999"),
        await ide.client.get(f"/api/runs/{run_id}/events?coalesce_ms=²"),
    ]:
        assert_client_error(response)


async def test_a_lone_surrogate_in_a_path(ide: Ide) -> None:
    for path in ("/api/files/%ED%A0%80.tac", "/api/runs/%ED%A0%80", "/api/files/a%ED%A0%80b"):
        response = await ide.client.get(path)
        assert response.status_code < 500, (path, response.text)


async def test_a_deeply_nested_json_body(ide: Ide) -> None:
    deep = "[" * 200_000 + "]" * 200_000
    for path in ("/api/runs", "/api/files", "/api/validate"):
        response = await ide.client.post(
            path, content=deep, headers={"content-type": "application/json"}
        )
        assert response.status_code < 500, (path, response.status_code)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ('"\\ud800"', "lone surrogate"),
        ("NaN", "NaN is not JSON"),
        ("-Infinity", "-Infinity is not JSON"),
        ("1e999", "beyond the largest number"),
    ],
)
async def test_inputs_that_are_not_json_text(ide: Ide, value: str, words: str) -> None:
    body = '{"path": "hello.tac", "mock": true, "inputs": {"name": ' + value + "}}"
    for path in ("/api/runs", "/api/runs/ui-stream"):
        response = await ide.client.post(
            path, content=body, headers={"content-type": "application/json"}
        )
        assert_client_error(response)
        assert words in response.json()["error"]["message"]


async def test_a_file_name_with_a_control_character(ide: Ide, workspace: Path) -> None:
    for name in ("a\nb.tac", "tab\there.tac", "bell\x07.tac"):
        write = await ide.client.post("/api/files", json={"path": name, "content": "-- x"})
        assert_client_error(write)
        assert "control character" in write.json()["error"]["message"]
    # One made on disk by other means is not listed.
    (workspace / "line\nbreak.tac").write_text("-- x")
    listed = (await ide.client.get("/api/files")).json()["files"]
    assert all("\n" not in f["path"] for f in listed) and listed


async def test_a_file_name_over_255_bytes(ide: Ide) -> None:
    name = "x" * 300 + ".tac"
    write = await ide.client.post("/api/files", json={"path": name, "content": "-- x"})
    assert_client_error(write)
    read = await ide.client.get(f"/api/files/{name}")
    assert_client_error(read)


async def test_a_symlink_loop_leaves_the_rest_listed(ide: Ide, workspace: Path) -> None:
    os.symlink("loop_b", workspace / "loop_a")
    os.symlink("loop_a", workspace / "loop_b")
    (workspace / "deep").mkdir()
    os.symlink("..", workspace / "deep" / "up")
    response = await ide.client.get("/api/files")
    assert response.status_code == 200, response.text
    paths = [f["path"] for f in response.json()["files"]]
    assert "hello.tac" in paths and "essay.tac" in paths
    assert_client_error(await ide.client.get("/api/files/loop_a"))
