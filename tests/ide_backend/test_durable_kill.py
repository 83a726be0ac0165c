"""Durable runs across a killed IDE server (SIGKILL of `tide ide` and of every process it
started, its executors among them): runs killed at more than 20 points, in executors and in the
server's own process, resume over HTTP to exactly the output of uninterrupted runs, without repeating a model call that finished, and a run waiting for a
person stays waiting and answerable through every kill."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.durable.procedures import SERVED_SCRIPT, SERVED_WORKFLOW
from tests.durable.processes import (
    Ide,
    ModelServer,
    Progress,
    StoreProbe,
    check_calls,
    model_server,
    wait_until,
)

ASK = """
writer = Agent { model = "scripted/default", api_base = "URL", system_prompt = "You write." }
Procedure {
  function(input)
    local a = writer("Say hello")
    local ok = Human.approve({ message = "Publish it?" })
    return { ok = ok, text = a.output .. " / " .. writer("Say bye").output }
  end
}
"""
# One run per topic at a time; every prompt names its run's topic.
TOPICS = [f"zq{number}x" for number in range(12)]
# Each new server spends seconds importing the model libraries. Runs in executors take longer
# to get under way, and a kill stops fewer of them mid-way: they have two lives more.
KILLS = 2
NEAR_END = 10  # journal entries: the final call under way
# The uninterrupted runs are answered at once, the others at 30 tokens a second: a run takes
# more than 10 s, more than a server's life in this test.
FAST_SCRIPT = {**SERVED_SCRIPT, "replies": [{"repeat": True, "tokens_per_second": 5000}]}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ModelServer]:
    with model_server(tmp_path, SERVED_SCRIPT, rate=30) as server:
        yield server


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


def still_waiting(ide: Ide, run_id: str, request_id: str) -> None:
    detail = ide.get(f"api/runs/{run_id}")
    assert detail["status"] == "waiting"
    assert [p["request_id"] for p in detail["pending"]] == [request_id]
    assert [r["id"] for r in ide.get("api/runs?status=waiting")["runs"]] == [run_id]


def finished(ide: Ide, probe: StoreProbe, run_id: str) -> dict[str, Any]:
    """The run's detail once it has completed (read from the store while it goes on)."""
    wait_until(lambda: probe.status(run_id) in ("completed", "failed"), f"run {run_id}")
    detail: dict[str, Any] = ide.get(f"api/runs/{run_id}")
    assert detail["status"] == "completed", detail["error"]
    return detail


def of_topic(calls: list[str], topic: str) -> list[str]:
    return [call for call in calls if topic in call]


@dataclass
class Attempt:
    """A run started or resumed by one server, to be killed once it has streamed ``chunks``
    more chunks (or, with none, done anything at all)."""

    run_id: str
    start: Progress
    chunks: int

    def progressed(self, probe: StoreProbe) -> bool:
        return (
            probe.progress(self.run_id).entries > self.start.entries
            or probe.chunks_after(self.run_id, self.start.last_seq) > 0
        )

    def reached(self, probe: StoreProbe) -> bool:
        if done(probe, self.run_id):
            return True
        if not self.chunks:
            return self.progressed(probe)
        return probe.chunks_after(self.run_id, self.start.last_seq) >= self.chunks


def at_their_points(probe: StoreProbe, attempts: list[Attempt]) -> bool:
    """Every run has come to its point, or one is near its end (so that none ends first)."""
    return all(a.reached(probe) for a in attempts) or any(
        probe.progress(a.run_id).entries >= NEAR_END for a in attempts
    )


def take_up(ide: Ide, topic: str, run_id: str | None, start: Progress, chunks: int) -> Attempt:
    """Start the topic's run, or resume it from where it stands (``start``)."""
    if run_id is None:
        body = {"path": "workflow.tac", "inputs": {"topic": topic}}
        response = ide.post("api/runs", body)
        assert response.status_code == 201, response.text
        return Attempt(str(response.json()["run_id"]), Progress(0, 0), chunks)
    response = ide.post(f"api/runs/{run_id}/resume")
    if response.status_code == 409 and ide.get(f"api/runs/{run_id}")["started_at"] is None:
        # Killed before its executor had started it: there is nothing to resume, so it is
        # started again, as a person would.
        return take_up(ide, topic, None, start, chunks)
    assert response.status_code == 202, response.text
    return Attempt(run_id, start, chunks)


def done(probe: StoreProbe, run_id: str) -> bool:
    return probe.status(run_id) == "completed"


@pytest.mark.timeout(420)
@pytest.mark.parametrize("where", ["executors", "in-process"])
def test_killed_at_twenty_points_then_resumed_over_http(
    workspace: Path, served: ModelServer, where: str
) -> None:
    """Runs in executor processes (the default), and in the server's own process
    (``--in-process``): a kill ends both the same way."""
    (workspace / "workflow.tac").write_text(SERVED_WORKFLOW.replace("URL", served.api_base))
    (workspace / "ask.tac").write_text(ASK.replace("URL", served.api_base))
    probe = StoreProbe(workspace)
    options = ("--max-concurrent", str(len(TOPICS)), *(["--in-process"] * (where == "in-process")))
    ide = Ide(workspace, *options)
    try:
        served.use(FAST_SCRIPT)
        references = [take_up(ide, topic, None, Progress(0, 0), 0).run_id for topic in TOPICS]
        expected = {
            topic: finished(ide, probe, run_id)["output"]
            for topic, run_id in zip(TOPICS, references, strict=True)
        }
        made = served.calls()
        reference_calls = {topic: of_topic(made, topic) for topic in TOPICS}
        assert all(len(calls) == len(set(calls)) == 6 for calls in reference_calls.values())
        asking = ide.post("api/runs", {"path": "ask.tac", "inputs": {}}).json()["run_id"]
        wait_until(lambda: probe.status(asking) == "waiting", "the question")
        request_id = ide.get(f"api/runs/{asking}")["pending"][0]["request_id"]
        served.use(SERVED_SCRIPT)

        # Each server's life starts or resumes every unfinished run, and ends with a SIGKILL
        # once each has streamed a number of chunks of its own (0 to 44, another for each run
        # and life), or as soon as one is near its end: the runs are stopped at as many points.
        run_ids: dict[str, str] = {}
        attempts: dict[str, list[list[str]]] = {topic: [] for topic in TOPICS}
        hits: list[tuple[str, Progress]] = []
        in_flight = 0  # attempts killed after they had asked for a model call
        kills = KILLS + 2 * (where == "executors")
        for life in range(kills + 1):
            mark = len(served.calls())
            unfinished = [
                (number, topic)
                for number, topic in enumerate(TOPICS)
                if topic not in run_ids or not done(probe, run_ids[topic])
            ]
            # All at once: each start or resume reads the procedure first (in an executor of
            # its own, by default), and the runs are to be under way together.
            with ThreadPoolExecutor(max(1, len(unfinished))) as pool:
                taking = {
                    topic: pool.submit(
                        take_up,
                        ide,
                        topic,
                        run_ids.get(topic),
                        probe.progress(run_ids[topic]) if topic in run_ids else Progress(0, 0),
                        4 * ((n + 5 * life) % 12),
                    )
                    for n, topic in unfinished
                }
                now = {topic: future.result() for topic, future in taking.items()}
            run_ids.update({topic: attempt.run_id for topic, attempt in now.items()})
            if life == kills:
                break
            wait_until(partial(at_their_points, probe, [*now.values()]), "the kill points")
            ide.kill()
            made = served.calls()[mark:]
            for topic, attempt in now.items():
                attempts[topic].append(of_topic(made, topic))
                if done(probe, attempt.run_id):
                    continue
                in_flight += bool(attempts[topic][-1])
                if attempt.progressed(probe):
                    hits.append((topic, probe.progress(attempt.run_id)))
            ide = Ide(workspace, *options)
            still_waiting(ide, asking, request_id)
        answer = {"request_id": request_id, "value": True}
        answered = ide.post(f"api/runs/{asking}/answer", answer)
        assert answered.status_code == 202, answered.text
        assert finished(ide, probe, asking)["output"]["ok"] is True
        for topic, run_id in run_ids.items():
            assert finished(ide, probe, run_id)["output"] == expected[topic]
            assert probe.events_twice(run_id) == []
        made = served.calls()[mark:]
        for topic in now:
            attempts[topic].append(of_topic(made, topic))
        again = ide.post(f"api/runs/{run_ids[TOPICS[0]]}/resume")
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "not_resumable"
    finally:
        ide.stop()
        probe.close()

    said = [call for call in served.calls() if "Say " in call]
    assert len(said) == len(set(said)) == 2  # "Say hello" before the kills, "Say bye" after
    repeated = sum(check_calls(reference_calls[topic], attempts[topic]) for topic in TOPICS)
    assert repeated <= in_flight  # at most the call in flight at each kill
    assert len(set(hits)) == len(hits) >= 20
    at = sorted({progress.entries for _, progress in hits})
    print(f"{len(hits)} kills after journal entries {at}, {repeated} calls made again")
