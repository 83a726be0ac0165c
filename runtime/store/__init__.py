"""The execution store: every run, its events in order, and analytics over them.

``SQLiteStore`` keeps them in ``<workspace>/.tide/runs.db``; ``ExecutionStore`` is the
interface another database can implement. A run is recorded by adding a ``StoreHandler`` to
its handlers::

    store = SQLiteStore.for_workspace(".")
    await runtime.run("hello.tac", handlers=[StoreHandler(store)])
    await store.aclose()

Crash window: events are written in batches, at the latest 50 ms after an event reaches the
handler or once 256 events wait, and at once at a run's terminal event. A process killed
mid-run leaves every event of every written batch, in order and without gaps; it loses at
most the last batch (50 ms or 256 events). A finished run is complete on disk.
"""

from runtime.store._owners import INTERRUPTED
from runtime.store.base import (
    GROUPS,
    RESUMABLE_ERRORS,
    RUN_STATUSES,
    TERMINAL_STATUSES,
    ExecutionStore,
    GroupBy,
    RunRecord,
    RunStatus,
    SeriesPoint,
    Stat,
    StatsRow,
    parse_since,
)
from runtime.store.codec import turn_texts
from runtime.store.handler import StoreHandler
from runtime.store.sqlite import SQLiteStore, default_store_path

__all__ = [
    "GROUPS",
    "INTERRUPTED",
    "RESUMABLE_ERRORS",
    "RUN_STATUSES",
    "TERMINAL_STATUSES",
    "ExecutionStore",
    "GroupBy",
    "RunRecord",
    "RunStatus",
    "SQLiteStore",
    "SeriesPoint",
    "Stat",
    "StatsRow",
    "StoreHandler",
    "default_store_path",
    "parse_since",
    "turn_texts",
]
