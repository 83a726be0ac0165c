"""What a durable ``Run`` does with its journal: record how to start it again, and journal the
tools it calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime.journal import Journal, journaled

if TYPE_CHECKING:
    from runtime.declarations import ToolDecl
    from runtime.host import Host
    from runtime.run import Run


async def start_journal(run: Run, journal: Journal) -> None:
    """Attach the journal to the run; a new run records, at position 0, what resuming needs."""

    def state_values() -> dict[str, Any]:
        host = run.host
        return host.state.values if host is not None else {}

    journal.attach(run.bus, run.store_handler, state_values)
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


def invoke_tool_journaled(run: Run, host: Host, tool: ToolDecl, args: dict[str, Any]) -> Any:
    """Call a tool (on the Lua thread) through the journal. A call the journal answers does not
    run; it is still in the tool's ledger (``called()``, ``last_result()``)."""
    ran = False

    def invoke() -> Any:
        nonlocal ran
        ran = True
        return host.invoke_tool(tool, args)

    result = journaled(run, "tool", tool.name or f"tool{tool.id}", args, invoke)
    if not ran:
        host.ledger.record(tool.id, args, result)
    return result
