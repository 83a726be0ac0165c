"""When the server runs full garbage collections."""

from __future__ import annotations

import gc

from ide_backend.gc_policy import IDLE_AFTER, NEVER, GcPolicy


def test_automatic_full_collections_are_off_while_it_is_in_force() -> None:
    before = gc.get_threshold()
    with GcPolicy():
        assert gc.get_threshold() == (before[0], before[1], NEVER)
    assert gc.get_threshold() == before


def test_with_runs_going_it_waits_for_enough_finished_runs() -> None:
    policy = GcPolicy(max_finished=3, max_interval_s=1e9)
    gc.collect()
    gc.collect(1)  # something reached the oldest generation
    for _ in range(2):
        policy.run_finished()
        assert not policy.due(active_runs=5)
    policy.run_finished()
    assert policy.due(active_runs=5)
    policy.collect()
    assert not policy.due(active_runs=5)
    assert policy.full_collections == 1


def test_with_runs_going_it_collects_after_the_longest_interval() -> None:
    policy = GcPolicy(max_finished=1000, max_interval_s=0)
    gc.collect()
    assert not policy.due(active_runs=5), "nothing new in the oldest generation"
    gc.collect(1)
    assert policy.due(active_runs=5)


def test_with_no_run_going_it_collects_what_finished_runs_left() -> None:
    policy = GcPolicy(max_finished=1000, max_interval_s=1e9)
    gc.collect()
    assert not policy.due(active_runs=0)
    policy.run_finished()
    assert policy.due(active_runs=0)
    policy.collect()
    for _ in range(IDLE_AFTER):
        gc.collect(1)
    assert policy.due(active_runs=0), "at CPython's own pace when idle"
