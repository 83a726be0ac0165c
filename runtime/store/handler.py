"""The log handler that records a run in an execution store."""

from __future__ import annotations

from runtime.events import Event, RunStartedEvent
from runtime.store.base import ExecutionStore, RunRecord


class StoreHandler:
    """Hands each event to the store, which writes them in batches on its own thread: ``log``
    never waits for the database, so recording a run does not slow it down.

    ``model`` and ``mock`` describe the run for its row when the caller has not recorded the
    run already (the IDE records a queued run itself); without ``model`` the row names the
    models its agents used.
    """

    def __init__(
        self, store: ExecutionStore, *, model: str | None = None, mock: bool = False
    ) -> None:
        self.store = store
        self.model = model
        self.mock = mock

    def log(self, event: Event) -> None:
        if event.type == "run_started" and (self.model is not None or self.mock):
            assert isinstance(event, RunStartedEvent)
            self.store.record_run(
                RunRecord(
                    id=event.run_id,
                    procedure=event.procedure,
                    status="running",
                    inputs=dict(event.inputs),
                    tags=dict(event.tags),
                    model=self.model,
                    mock=self.mock,
                    created_at=event.ts,
                )
            )
        self.store.record_event(event)
