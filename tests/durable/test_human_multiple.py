"""``Human.multiple`` in durable runs: one request with several fields, one checked answer."""

from __future__ import annotations

import json
import os
import pty
import select
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runtime.api import Runtime
from runtime.human_fields import InvalidAnswer, check_answer
from runtime.store import SQLiteStore
from tests.test_cli import tide

pytestmark = pytest.mark.anyio

ASK = """
Procedure {
  function(input)
    local r = Human.multiple({
      { id = "target", label = "Target", type = "select", message = "Where to?",
        options = { "staging", { label = "Production", value = "prod" } } },
      { id = "confirm", type = "approval", message = "Sure?" },
      { id = "notes", type = "input", message = "Notes?", required = false },
      { id = "tone", type = "input", message = "Tone?", default = "calm" },
    })
    local again = Human.multiple({ items = { { name = "ok", type = "approval" } }, message = "Last" })
    return { target = r.target, confirm = r.confirm, notes = r.notes, tone = r.tone, ok = again.ok }
  end
}
"""


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore.for_workspace(tmp_path) as opened:
        yield opened


async def test_one_request_one_checked_answer_then_replayed(
    tmp_path: Path, store: SQLiteStore
) -> None:
    path = tmp_path / "ask.tac"
    path.write_text(ASK)
    async with Runtime(store=store) as runtime:
        first = await runtime.run(path)
        assert first.status == "waiting"
        [request] = first.pending
        assert request["kind"] == "multiple"
        assert request["message"] == "4 questions: Target, confirm, notes, tone"
        assert [f["id"] for f in request["fields"]] == ["target", "confirm", "notes", "tone"]
        assert [f["type"] for f in request["fields"]] == ["select", "approve", "input", "input"]
        assert request["fields"][2]["required"] is False
        assert request["default"] == {"tone": "calm"}
        await store.flush()
        record = await store.get_run(first.run_id)
        assert record is not None and record.pending[0]["fields"] == request["fields"]

        rid = request["request_id"]
        wrong: list[tuple[Any, list[str]]] = [
            ({"confirm": True}, ["'target' is required"]),
            ({"target": "nowhere", "confirm": "yes"}, [
                "'target' must be one of: \"staging\", \"prod\"", "'confirm' must be true or false",
            ]),
            ({"target": "prod", "confirm": True, "colour": "red"}, ["'colour' is not a field"]),
            ("prod", ["answer with one object keyed by field"]),
        ]  # fmt: skip
        for value, phrases in wrong:
            with pytest.raises(InvalidAnswer) as caught:
                await runtime.answer(first.run_id, rid, value)
            for phrase in phrases:
                assert phrase in caught.value.message
            assert caught.value.hint is not None and '"target": "staging"' in caught.value.hint
        record = await store.get_run(first.run_id)
        assert record is not None and record.status == "waiting"  # nothing was recorded

        second = await runtime.answer(first.run_id, rid, {"target": "prod", "confirm": True})
        assert second.status == "waiting"
        assert second.pending[0]["message"] == "Last"
        assert second.pending[0]["fields"][0]["id"] == "ok"
        done = await runtime.answer(first.run_id, None, {"ok": False})
    assert done.ok, done.error
    assert done.output == {"target": "prod", "confirm": True, "tone": "calm", "ok": False}
    events = await store.read_events(first.run_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.type for e in events].count("human_request") == 2
    responses = [e for e in events if e.type == "human_response"]
    assert [r.value for r in responses] == [
        {"target": "prod", "confirm": True, "tone": "calm"},
        {"ok": False},
    ]
    entries = [e for e in await store.read_journal(first.run_id) if e.kind == "human"]
    assert [(e.name, e.value) for e in entries] == [
        ("multiple", responses[0].value),
        ("multiple", {"ok": False}),
    ]


async def test_under_mock_every_field_takes_its_default_or_stand_in(tmp_path: Path) -> None:
    path = tmp_path / "ask.tac"
    path.write_text(ASK)
    async with Runtime() as runtime:
        result = await runtime.run(path, mock=True)
    assert result.ok, result.error
    assert result.output == {
        "target": "staging",
        "confirm": True,
        "notes": "test input",
        "tone": "calm",
        "ok": True,
    }


def test_check_answer_shapes() -> None:
    request = {
        "request_id": "r-1",
        "kind": "multiple",
        "fields": [
            {"id": "tags", "type": "select", "mode": "multiple", "options": ["a", "b"],
             "default": None, "required": True},
            {"id": "verdict", "type": "review", "options": [], "default": None, "required": True},
            {"id": "name", "type": "input", "options": [], "default": None, "required": True},
        ],
    }  # fmt: skip
    good = {"tags": ["a", "b"], "verdict": {"decision": "Reject"}, "name": "Ada"}
    assert check_answer(request, good) == good
    with pytest.raises(InvalidAnswer) as caught:
        check_answer(request, {"tags": "a", "verdict": "ok", "name": ""})
    assert set(caught.value.problems) == {"tags", "verdict", "name"}
    assert caught.value.problems["name"] == "is required"
    assert check_answer({"kind": "approve"}, "anything") == "anything"


ONE = """
Procedure {
  function(input)
    local r = Human.inputs({
      { id = "target", type = "select", message = "Where to?", options = { "staging", "prod" } },
      { id = "confirm", type = "approval", message = "Sure?" },
    })
    return { target = r.target, confirm = r.confirm }
  end
}
"""


def test_tide_runs_answer_checks_the_fields(tmp_path: Path) -> None:
    (tmp_path / "ask.tac").write_text(ONE)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return tide(tmp_path, *args, timeout=300)

    waiting = cli("run", "ask.tac")
    assert waiting.returncode == 4, waiting.stderr
    assert 'target: Where to? (one of "staging", "prod")' in waiting.stderr
    assert "confirm: Sure? (true or false)" in waiting.stderr
    command = next(line for line in waiting.stderr.splitlines() if "tide runs answer" in line)
    assert command.endswith("""'{"target": "staging", "confirm": true}'""")
    run_id = command.split("tide runs answer ")[1].split()[0]
    shown = cli("runs", "show", run_id)
    assert "confirm: Sure? (true or false)" in shown.stdout and command.strip() in shown.stdout
    refused = cli("runs", "answer", run_id, '{"confirm": "maybe"}')
    assert refused.returncode == 2
    assert "'target' is required" in refused.stderr
    assert "'confirm' must be true or false" in refused.stderr
    done = cli("runs", "answer", run_id, '{"target": "prod", "confirm": true}', "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"] == {"target": "prod", "confirm": True}


def test_the_terminal_asks_each_field_then_answers_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from runtime.cli._human import TerminalHuman
    from runtime.human_requests import request_fields

    typed = iter(["", "9", "2", "y", "", "loud"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(typed))
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    items = [
        {"id": "target", "type": "select", "options": ["staging", "prod"]},
        {"id": "confirm", "type": "approval"},
        {"id": "tone", "type": "input", "default": "calm"},
        {"id": "extra", "type": "input"},
    ]
    request = request_fields("multiple", [items])
    answer = TerminalHuman().ask("multiple", request["message"], request)
    assert answer == {"target": "prod", "confirm": True, "tone": "calm", "extra": "loud"}
    assert capsys.readouterr().out.count("(required)") == 2  # the empty and the out-of-range pick


def test_tide_run_at_a_terminal_asks_the_fields_and_journals_one_answer(tmp_path: Path) -> None:
    (tmp_path / "ask.tac").write_text(ONE)
    env = {**os.environ, "TIDE_WORKER": "off", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("tide")), "run", "ask.tac"],
        cwd=tmp_path,
        env=env,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        start_new_session=True,
    )
    os.close(follower)
    replies = {b"1/2": b"2\n", b"2/2": b"y\n"}
    seen = b""
    deadline = time.monotonic() + 120
    while replies and time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.1)
        if ready:
            try:
                seen += os.read(leader, 4096)
            except OSError:  # the terminal closes when the command ends
                break
            for prompt in [p for p in replies if p in seen]:
                os.write(leader, replies.pop(prompt))
        elif process.poll() is not None:
            break
    try:
        assert process.wait(timeout=60) == 0, seen.decode(errors="replace")
    finally:
        os.close(leader)
    with sqlite3.connect(tmp_path / ".tide" / "runs.db") as db:
        journal = db.execute("SELECT name, data FROM journal WHERE kind = 'human'").fetchall()
        kinds = [k for (k,) in db.execute("SELECT type FROM events ORDER BY seq")]
    assert [(name, json.loads(data)["value"]) for name, data in journal] == [
        ("multiple", {"target": "prod", "confirm": True})
    ]
    assert kinds.count("human_request") == 1 and kinds.count("human_response") == 1


async def test_a_timed_out_request_takes_its_fields_defaults(
    tmp_path: Path, store: SQLiteStore
) -> None:
    path = tmp_path / "ask.tac"
    path.write_text("""
Procedure {
  function(input)
    local r = Human.multiple({ timeout = 60, items = {
      { id = "target", type = "select", options = { "staging", "prod" }, default = "prod" },
      { id = "notes", type = "input", required = false },
    } })
    return { target = r.target, notes = r.notes or "none" }
  end
}
""")
    async with Runtime(store=store) as runtime:
        first = await runtime.run(path)
        assert first.status == "waiting" and first.pending[0]["timeout_s"] == 60
        await store.flush()
        later = datetime.now(UTC) + timedelta(hours=1)
        assert store.expire_requests_sync(now=later) == [first.run_id]
        resumed = await runtime.resume(first.run_id)
    assert resumed.ok, resumed.error
    assert resumed.output == {"target": "prod", "notes": "none"}
