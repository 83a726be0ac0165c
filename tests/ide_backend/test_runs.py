from __future__ import annotations

import anyio
import pytest

from runtime.model_server import Reply, Script
from tests.ide_backend.conftest import Ide, IdeFactory
from tests.ide_backend.sse_client import follow

pytestmark = pytest.mark.anyio

GREETING = "Hello there, friend. This is a mocked greeting."


async def test_a_run_streams_its_events_and_is_recorded(ide: Ide) -> None:
    started = await ide.client.post(
        "/api/runs", json={"path": "hello.tac", "inputs": {"name": "Ada"}, "mock": True}
    )
    assert started.status_code == 201
    assert started.json()["status"] in ("queued", "running")
    run_id = started.json()["run_id"]

    feed = await follow(ide.client, run_id)
    assert feed.types[:2] == ["run_started", "agent_turn"]
    assert feed.types[-4:] == ["cost", "agent_turn", "output_validation", "run_completed"]
    assert set(feed.types[2:-4]) == {"agent_stream_chunk"}
    assert feed.ids == sorted(set(feed.ids))
    assert all(m.data["seq"] == m.id for m in feed.messages)
    assert feed.texts == {("writer", 1): GREETING}
    chunk = next(m.data for m in feed.messages if m.event == "agent_stream_chunk")
    assert set(chunk) == {"type", "run_id", "seq", "agent", "turn", "chunk_text", "offset"}
    assert feed.messages[-1].data["output"] == {"greeting": GREETING}

    detail = (await ide.client.get(f"/api/runs/{run_id}")).json()
    assert detail["status"] == "completed"
    assert detail["procedure"] == "hello.tac"
    assert detail["inputs"] == {"name": "Ada"}
    assert detail["model"] == "scripted/default"
    assert detail["output"] == {"greeting": GREETING}
    assert detail["error"] is None
    assert detail["agent_turns"] == 1
    assert detail["started_at"] and detail["finished_at"] and detail["duration_ms"] > 0
    runs = (await ide.client.get("/api/runs")).json()["runs"]
    assert [r["id"] for r in runs] == [run_id]
    assert "output" not in runs[0]

    await ide.services.store.flush()
    stored = await ide.services.store.get_run(run_id)
    assert stored is not None and stored.status == "completed"


async def test_a_source_run_and_user_mistakes(ide: Ide) -> None:
    source = (ide.services.workspace.root / "hello.tac").read_text()
    ok = await ide.client.post(
        "/api/runs", json={"source": source, "inputs": {"name": "Bo"}, "mock": True}
    )
    assert ok.status_code == 201
    feed = await follow(ide.client, ok.json()["run_id"])
    assert feed.types[-1] == "run_completed"

    cases = [
        ({"source": "Procedure {", "inputs": {}}, 400, "syntax"),
        ({"path": "hello.tac", "inputs": {}, "mock": True}, 422, "invalid_inputs"),
        ({"path": "hello.tac", "inputs": {"name": 3}, "mock": True}, 422, "invalid_inputs"),
        ({"path": "missing.tac", "inputs": {}}, 404, "not_found"),
        ({"inputs": {}}, 422, "invalid"),
        ({"path": "hello.tac", "inputs": "Ada"}, 422, "invalid"),
        ({"path": "hello.tac", "inputs": {"name": "x"}, "model": "nonsense"}, 400, None),
    ]
    for body, status, code in cases:
        answer = await ide.client.post("/api/runs", json=body)
        assert answer.status_code == status, (body, answer.text)
        error = answer.json()["error"]
        assert error["message"]
        if code is not None:
            assert error["code"] == code
    assert len((await ide.client.get("/api/runs")).json()["runs"]) == 1


async def test_runs_beyond_the_limit_queue_and_can_be_cancelled(make_ide: IdeFactory) -> None:
    async with make_ide(max_concurrent=1) as ide:
        scripted = await ide.services.runtime.scripted_server()
        scripted.set_script(
            Script(replies=[Reply(tokens=2000, tokens_per_second=100, repeat=True)])
        )
        first = await ide.client.post("/api/runs", json={"path": "essay.tac", "inputs": {}})
        second = await ide.client.post("/api/runs", json={"path": "essay.tac", "inputs": {}})
        assert first.json()["status"] == "running"
        assert second.json()["status"] == "queued"
        queued_id = second.json()["run_id"]
        listed = (await ide.client.get("/api/runs?status=queued")).json()["runs"]
        assert [r["id"] for r in listed] == [queued_id]

        cancelled = await ide.client.post(f"/api/runs/{queued_id}/cancel")
        assert cancelled.json() == {"run_id": queued_id, "status": "cancelled"}
        feed = await follow(ide.client, queued_id)
        assert feed.types == ["run_started", "run_cancelled"]

        stopped = await ide.client.post(f"/api/runs/{first.json()['run_id']}/cancel")
        assert stopped.json()["status"] == "cancelled"
        third = await ide.client.post(
            "/api/runs", json={"path": "hello.tac", "mock": True, "inputs": {"name": "C"}}
        )
        assert third.json()["status"] == "running"
        by_status = (await ide.client.get("/api/runs?status=cancelled")).json()["runs"]
        assert len(by_status) == 2
        by_procedure = (await ide.client.get("/api/runs?procedure=hello.tac")).json()["runs"]
        assert [r["id"] for r in by_procedure] == [third.json()["run_id"]]
        assert len((await ide.client.get("/api/runs?limit=1")).json()["runs"]) == 1


async def test_many_runs_at_once(make_ide: IdeFactory) -> None:
    async with make_ide(max_concurrent=8) as ide:
        run_ids = [
            (
                await ide.client.post(
                    "/api/runs",
                    json={"path": "hello.tac", "inputs": {"name": str(i)}, "mock": True},
                )
            ).json()["run_id"]
            for i in range(20)
        ]
        feeds = {}

        async def watch(run_id: str) -> None:
            feeds[run_id] = await follow(ide.client, run_id)

        async with anyio.create_task_group() as group:
            for run_id in run_ids:
                group.start_soon(watch, run_id)
        assert all(f.types[-1] == "run_completed" for f in feeds.values())
        assert all(f.texts == {("writer", 1): GREETING} for f in feeds.values())


async def test_validate_and_models(ide: Ide) -> None:
    source = (ide.services.workspace.root / "hello.tac").read_text()
    valid = (await ide.client.post("/api/validate", json={"source": source})).json()
    assert valid["ok"] is True and valid["diagnostics"] == []
    procedure = valid["procedure"]
    assert procedure["inputs"][0]["name"] == "name"
    assert procedure["inputs"][0]["type"] == "string"
    assert procedure["inputs"][0]["required"] is True
    assert procedure["outputs"][0]["name"] == "greeting"
    assert procedure["agents"] == [{"name": "writer", "model": "scripted/default"}]

    broken = (
        await ide.client.post("/api/validate", json={"source": "x = = 1", "path": "b.tac"})
    ).json()
    assert broken["ok"] is False and broken["procedure"] is None
    (diagnostic,) = broken["diagnostics"]
    assert diagnostic["severity"] == "error" and diagnostic["line"] == 1
    empty = (await ide.client.post("/api/validate", json={"source": "  "})).json()
    assert empty["ok"] is False

    (ide.services.workspace.root / "other.tac").write_text(
        source.replace("scripted/default", "openai/gpt-4o-mini")
    )
    models = (await ide.client.get("/api/models")).json()
    assert models["models"] == ["local/smollm2", "openai/gpt-4o-mini", "scripted/default"]
    assert models["default"] is None


async def test_health(ide: Ide) -> None:
    assert (await ide.client.get("/api/health")).json() == {"ok": True, "version": "0.1.0"}
