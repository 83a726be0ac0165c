from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
import pytest

from runtime.config import RuntimeConfig
from tests.ide_backend.conftest import HELLO, Ide, IdeFactory

pytestmark = pytest.mark.anyio


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


async def judged_files(ide: Ide) -> dict[str, dict[str, Any]]:
    """The listing once every file in it has been checked (a listing waits for checks only
    so long; a loaded machine may take longer)."""
    with anyio.fail_after(60):
        while True:
            files = (await ide.client.get("/api/files")).json()["files"]
            if all(f["valid"] is not None for f in files):
                return {f["path"]: f for f in files}
            await anyio.sleep(0.2)


async def test_list_files_with_validity(ide: Ide, workspace: Path) -> None:
    (workspace / "sub").mkdir()
    (workspace / "sub" / "broken.lua").write_text("x = = 1")
    (workspace / "notes.txt").write_text("not a procedure")
    (workspace / ".hidden").mkdir()
    (workspace / ".hidden" / "secret.tac").write_text(HELLO)

    by_path = await judged_files(ide)
    assert set(by_path) == {"essay.tac", "hello.tac", "sub/broken.lua"}
    assert by_path["hello.tac"]["valid"] is True
    assert by_path["hello.tac"]["errors"] == 0
    assert by_path["hello.tac"]["size"] == len(HELLO)
    assert by_path["sub/broken.lua"]["valid"] is False
    assert by_path["sub/broken.lua"]["errors"] >= 1
    assert isinstance(by_path["hello.tac"]["modified"], str)


# Top levels that never end: a loop the instruction hook stops, and calls into Lua's C library
# it cannot interrupt (only killing the executor that reads the file stops them).
ENDLESS_TOP_LEVELS = {
    "spin.tac": "while true do end\n",
    "rep.tac": 'local s = string.rep("x", 2^40)\n',
    "find.tac": 'local s = string.rep("a", 14000)\nwhile true do s:find(".-b") end\n',
}


async def test_a_top_level_that_never_ends_costs_only_its_own_file(
    make_ide: IdeFactory, workspace: Path
) -> None:
    for name, text in ENDLESS_TOP_LEVELS.items():
        (workspace / name).write_text(text)
    runtime = RuntimeConfig(timeout_s=30, inspect_timeout_s=1)
    async with make_ide(runtime=runtime) as ide:
        began = anyio.current_time()
        first = (await ide.client.get("/api/files")).json()["files"]
        # The listing does not wait for the files being checked for long, nor do the good
        # files' results wait for theirs.
        assert anyio.current_time() - began < 30
        assert {f["path"] for f in first} == {"essay.tac", "hello.tac", *ENDLESS_TOP_LEVELS}
        by_path = await judged_files(ide)
        for name in ENDLESS_TOP_LEVELS:
            assert by_path[name]["valid"] is False and by_path[name]["errors"] >= 1, name
        assert by_path["hello.tac"]["valid"] is True
        report = (
            await ide.client.post("/api/validate", json={"source": ENDLESS_TOP_LEVELS["find.tac"]})
        ).json()
        assert report["ok"] is False
        assert "ran out of time" in report["diagnostics"][0]["message"]
        # The server answered throughout, and still does at once.
        assert (await ide.client.get("/api/runs")).status_code == 200


async def test_read_write_create_rename_delete(ide: Ide, workspace: Path) -> None:
    client = ide.client
    read = (await client.get("/api/files/hello.tac")).json()
    assert read["path"] == "hello.tac" and read["content"] == HELLO

    saved = await client.put("/api/files/hello.tac", json={"content": HELLO + "-- more\n"})
    assert saved.status_code == 200 and saved.json()["path"] == "hello.tac"
    assert (workspace / "hello.tac").read_text().endswith("-- more\n")

    created = await client.post("/api/files", json={"path": "new/thing.tac", "content": "-- hi"})
    assert created.status_code == 201
    assert created.json()["path"] == "new/thing.tac" and "modified" in created.json()
    assert (workspace / "new" / "thing.tac").read_text() == "-- hi"
    again = await client.post("/api/files", json={"path": "new/thing.tac"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "exists"

    put_new = await client.put("/api/files/other.lua", json={"content": "return 1"})
    assert put_new.status_code == 200 and (workspace / "other.lua").is_file()

    renamed = await client.post(
        "/api/files/rename", json={"from": "new/thing.tac", "to": "moved.tac"}
    )
    assert renamed.status_code == 200 and renamed.json() == {"path": "moved.tac"}
    assert not (workspace / "new" / "thing.tac").exists()
    clash = await client.post("/api/files/rename", json={"from": "moved.tac", "to": "hello.tac"})
    assert clash.status_code == 409

    deleted = await client.delete("/api/files/moved.tac")
    assert deleted.status_code == 204 and not (workspace / "moved.tac").exists()
    assert (await client.delete("/api/files/moved.tac")).status_code == 404
    missing = await client.get("/api/files/missing.tac")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "no file 'missing.tac'"}}


@pytest.fixture
def outside(tmp_path: Path, workspace: Path) -> Path:
    """A directory next to the workspace with a file that must never be read or changed."""
    other = tmp_path / "outside"
    other.mkdir()
    (other / "secret.tac").write_text("-- secret")
    (workspace / "link-out.tac").symlink_to(other / "secret.tac")
    (workspace / "dir-out").symlink_to(other, target_is_directory=True)
    (workspace / "dangling.tac").symlink_to(other / "nothing-yet.tac")
    (workspace / "db-link.tac").symlink_to(workspace / ".tide-like.db")
    (workspace / ".tide-like.db").write_text("not a procedure")
    return other


def url_path(path: str) -> str:
    """The path as a URL segment list; "." and ".." escaped so that clients keep them."""
    segments = path.split("/")
    return "/".join(
        s.replace(".", "%2E") if s in (".", "..") else quote(s, safe="") for s in segments
    )


TRAVERSALS = [
    ("../outside/secret.tac", 400),
    ("sub/../../outside/secret.tac", 400),
    ("./hello.tac", 400),
    ("/etc/passwd.tac", 400),
    ("C:/Windows/x.tac", 400),
    ("a\0b.tac", 400),
    ("sub\\..\\x.tac", 400),
    ("notes.txt", 400),
    ("hello.tac.bak", 400),
    (".tide/runs.db", 400),
    (".hidden/x.tac", 400),
    ("link-out.tac", 403),
    ("dir-out/secret.tac", 403),
    ("dangling.tac", 403),
    ("db-link.tac", 403),
]


@pytest.mark.parametrize(("path", "status"), TRAVERSALS)
async def test_paths_that_leave_the_workspace_are_refused(
    ide: Ide, workspace: Path, outside: Path, path: str, status: int
) -> None:
    before = snapshot(outside), snapshot(workspace)
    client = ide.client
    url = f"/api/files/{url_path(path)}"
    answers = [
        await client.get(url),
        await client.put(url, json={"content": "-- pwned"}),
        await client.delete(url),
    ]
    plain = path
    answers += [
        await client.post("/api/files", json={"path": plain, "content": "-- pwned"}),
        await client.post("/api/files/rename", json={"from": "hello.tac", "to": plain}),
        await client.post("/api/files/rename", json={"from": plain, "to": "stolen.tac"}),
        await client.post("/api/runs", json={"path": plain, "inputs": {}, "mock": True}),
        await client.post("/api/validate", json={"source": "-- x", "path": plain}),
    ]
    for answer in answers:
        assert answer.status_code in (status, 400, 403), (answer.request.url, answer.text)
        assert set(answer.json()["error"]) == {"code", "message"}
        assert "Traceback" not in answer.text
    assert answers[0].status_code == status
    assert (snapshot(outside), snapshot(workspace)) == before
    assert not (workspace / "stolen.tac").exists()
    assert not (outside / "nothing-yet.tac").exists()


def raw_get(url: str, target: str) -> bytes:
    """GET with the request target exactly as given (HTTP clients remove "..")."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port)) as conn:
        conn.sendall(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    return data


async def test_a_raw_url_that_climbs_out_is_not_served(ide: Ide, outside: Path) -> None:
    for target in ("/api/files/../../outside/secret.tac", "/api/files/%2e%2e/outside/secret.tac"):
        answer = await anyio.to_thread.run_sync(raw_get, ide.url, target)
        assert b"-- secret" not in answer
        assert answer.split(b" ")[1] in (b"400", b"404"), answer


async def test_large_bodies_and_contents_are_refused(ide: Ide, workspace: Path) -> None:
    big = "-" * (1024 * 1024 + 1)
    put = await ide.client.put("/api/files/big.tac", json={"content": big})
    assert put.status_code == 413
    assert put.json()["error"]["code"] == "too_large"
    raw = await ide.client.post(
        "/api/files",
        content=b'{"path": "big.tac", "content": "' + b"x" * (2 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert raw.status_code == 413
    (workspace / "huge.tac").write_text("-- " + "x" * (1024 * 1024))
    assert (await ide.client.get("/api/files/huge.tac")).status_code == 413
    assert not (workspace / "big.tac").exists()


async def test_bodies_must_be_json_objects(ide: Ide) -> None:
    text = await ide.client.post(
        "/api/files", content=b'{"path": "x.tac"}', headers={"Content-Type": "text/plain"}
    )
    assert text.status_code == 415
    bad = await ide.client.post(
        "/api/files", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"
    wrong_type = await ide.client.put("/api/files/x.tac", json={"content": 3})
    assert wrong_type.status_code == 422
    nul = await ide.client.put("/api/files/x.tac", json={"content": "a\u0000b"})
    assert nul.status_code == 400


async def test_writes_keep_the_file_mode(ide: Ide, workspace: Path) -> None:
    os.chmod(workspace / "hello.tac", 0o640)
    await ide.client.put("/api/files/hello.tac", json={"content": "-- new"})
    assert (workspace / "hello.tac").stat().st_mode & 0o777 == 0o640
    assert not [p for p in workspace.iterdir() if p.name.endswith(".tmp")]
