"""Whether a run can be resumed has one answer, ``RunRecord.resumable``: what the API's and
``tide runs --json``'s records say, and what ``tide runs resume`` (``check_resumable``) holds to."""

from __future__ import annotations

import pytest

from runtime.resume import NotResumable, check_resumable
from runtime.store import RESUMABLE_ERRORS, RunRecord
from tests.store.events import RunBuilder


def recorded(builder: RunBuilder) -> RunRecord:
    record = RunRecord(id=builder.run_id, procedure="p.tac")
    for event in builder.events:
        record.apply(event)
    return record


def failed(kind: str, *, started: bool = True) -> RunRecord:
    builder = RunBuilder("r1")
    if started:
        builder.started().turn("writer", "Half a", finish=False)
    return recorded(builder.failed("it stopped", "Half a", kind=kind))


@pytest.mark.parametrize(
    ("kind", "resumable"),
    [
        ("interrupted", True),  # its process was found gone
        ("executor", True),  # the IDE's executor process died (its memory limit, a kill)
        ("diverged", True),  # the procedure changed: restored, the run goes on
        ("timeout", False),  # its own time limit, which a resume would keep
        ("agent", False),
        ("lua", False),
        ("memory", False),
    ],
)
def test_a_failed_run_is_resumable_by_the_kind_of_its_failure(kind: str, resumable: bool) -> None:
    record = failed(kind)
    assert record.resumable is resumable
    assert record.summary()["resumable"] is resumable
    assert record.detail()["resumable"] is resumable
    if resumable:
        check_resumable(record)
    else:
        with pytest.raises(NotResumable, match="only a run that stopped without finishing"):
            check_resumable(record)


@pytest.mark.parametrize("kind", sorted(RESUMABLE_ERRORS))
def test_a_run_that_stopped_before_it_started_is_not_resumable(kind: str) -> None:
    record = failed(kind, started=False)
    assert not record.resumable
    with pytest.raises(NotResumable, match="stopped before it started"):
        check_resumable(record)


def test_finished_waiting_and_running_runs_are_not_resumable() -> None:
    running = recorded(RunBuilder("r1").started())
    completed = recorded(RunBuilder("r2").started().completed({"ok": True}))
    cancelled = recorded(RunBuilder("r3").started().cancelled())
    for record in (running, completed, cancelled):
        assert not record.resumable and record.summary()["resumable"] is False
        with pytest.raises(NotResumable):
            check_resumable(record)
