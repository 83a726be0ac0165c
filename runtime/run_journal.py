"""What a durable ``Run`` does with its journal: record how to start it again, and journal the
tools it calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from runtime.events import RunStartedEvent
from runtime.journal import Journal, journaled
from runtime.store.handler import StoreHandler

if TYPE_CHECKING:
    from runtime.bus import EventBus
    from runtime.declarations import ToolDecl
    from runtime.host import Host
    from runtime.source import ProcedureSource
    from runtime.store.base import ExecutionStore


class DurableRun(Protocol):
    """What journaling needs of its run (a ``Run``)."""

    bus: EventBus
    store_handler: StoreHandler | None
    source: ProcedureSource
    inputs: dict[str, Any]
    tags: dict[str, str]
    model_override: str | None
    mock: bool
    timeout_s: float

    @property
    def host(self) -> Host | None: ...


def open_journal(
    run_id: str, handlers: list[Any], store: ExecutionStore | None, journal: Journal | None
) -> tuple[Journal | None, StoreHandler | None]:
    """A run's journal (None without a store) and the handler that records it in the store."""
    handler = next((h for h in handlers if isinstance(h, StoreHandler)), None)
    store = store or (handler.store if handler is not None else None)
    return journal or (Journal(run_id, store) if store is not None else None), handler


async def start_journal(run: DurableRun, journal: Journal | None) -> None:
    """Emit ``run_started`` and attach the journal to the run; a new run records, at position
    0, what resuming needs. A resumed run's start follows every stored event (the end of its
    last attempt included), and its replay is numbered as the earlier attempts were."""
    fields: dict[str, Any] = {
        "procedure": run.source.display_name,
        "inputs": run.inputs,
        "tags": run.tags,
    }
    if journal is None or not journal.resumed:
        run.bus.emit(RunStartedEvent, **fields)
    else:
        run.bus.replaying(journal.stored_through, journal.boundaries)
        run.bus.resumed_start(RunStartedEvent, resumed=True, **fields)
    if journal is None:
        return

    def state_values() -> dict[str, Any]:
        host = run.host
        return host.state.values if host is not None else {}

    def sync_state() -> None:
        if run.host is not None:
            run.host.live_tables.sync()

    journal.attach(run.bus, run.store_handler, state_values)
    journal.sync_state = sync_state
    if journal.resumed:
        return
    source = run.source
    await journal.record_run(
        {
            "procedure": source.display_name,
            "path": str(source.path) if source.path else None,
            "project_root": str(source.project_root) if source.project_root else None,
            "text": source.text,
            "inputs": run.inputs,
            "model": run.model_override,
            "mock": run.mock,
            "timeout_s": run.timeout_s,
        }
    )


def invoke_tool_journaled(run: DurableRun, tool: ToolDecl, args: dict[str, Any]) -> Any:
    """Call a tool (on the Lua thread) through the journal. A call the journal answers does not
    run; it is still in the tool's ledger (``called()``, ``last_result()``)."""
    host = run.host
    assert host is not None
    ran = False

    def invoke() -> Any:
        nonlocal ran
        ran = True
        return host.invoke_tool(tool, args)

    result = journaled(run, "tool", tool.name or f"tool{tool.id}", args, invoke)
    if not ran:
        host.ledger.record(tool.id, args, result)
    return result
