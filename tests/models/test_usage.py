"""Every call counts: usage from the provider when it reports a possible one, else Tide's count
from the text sent and received, marked ``usage_estimated``. Against the scripted server, which
speaks the real streaming protocol."""

from __future__ import annotations

from typing import Any

import pytest

from runtime import MemoryHandler, Runtime, RuntimeConfig
from runtime.model_server import Reply, Script
from tests.helpers import check_sequence, of_type, source

pytestmark = pytest.mark.anyio

TEXT = (
    'w = Agent { model = "scripted/default", AGENT }\n'
    'Procedure { function(input) return { r = w("Tell me a story.").output } end }\n'
)


async def scripted_run(
    reply: Reply, agent: str = "retries = 0", **options: Any
) -> tuple[Any, list[Any]]:
    async with Runtime(RuntimeConfig(retry_backoff_s=0.01)) as runtime:
        server = await runtime.scripted_server()
        server.script.extend(Script(replies=[reply]))
        memory = MemoryHandler()
        result = await runtime.run(
            source(TEXT.replace("AGENT", agent)), handlers=[memory], **options
        )
    check_sequence(memory.events)
    return result, memory.events


async def test_a_long_answer_without_usage_is_counted_from_its_whole_text() -> None:
    result, events = await scripted_run(Reply(tokens=300, send_usage=False))
    assert result.ok
    (cost,) = of_type(events, "cost")
    assert cost.chunks == 300
    assert cost.completion_tokens >= 300
    assert cost.usage_estimated is True


async def test_usage_below_the_chunks_of_text_is_corrected_and_logged() -> None:
    # LiteLLM fills in usage the server left out, from the chunks it still holds.
    _, events = await scripted_run(Reply(tokens=120, send_usage=False))
    (cost,) = of_type(events, "cost")
    assert cost.completion_tokens >= 120 and cost.usage_estimated
    notes = [e for e in of_type(events, "log") if e.source == "accounting"]
    assert notes and "120 chunks of text" in notes[0].message


async def test_reported_usage_is_kept() -> None:
    _, events = await scripted_run(Reply(tokens=80))
    (cost,) = of_type(events, "cost")
    assert (cost.completion_tokens, cost.usage_estimated) == (80, False)


async def test_a_stream_stopped_by_an_idle_timeout_counts_what_arrived() -> None:
    reply = Reply(tokens=40, stall_after_tokens=20, stall_seconds=30)
    result, events = await scripted_run(reply, "retries = 0, idle_timeout = 0.3")
    assert result.status == "failed" and result.error is not None
    assert result.error.kind == "timeout"
    (cost,) = of_type(events, "cost")
    assert cost.completion_tokens >= 20 and cost.prompt_tokens > 0
    assert cost.usage_estimated is True
    assert events[-1].totals.total_tokens == cost.total_tokens


async def test_a_stream_stopped_by_the_turn_timeout_counts_what_arrived() -> None:
    reply = Reply(tokens=40, stall_after_tokens=20, stall_seconds=30)
    result, events = await scripted_run(reply, "retries = 0, timeout = 0.5")
    assert result.status == "failed"
    (cost,) = of_type(events, "cost")
    assert cost.completion_tokens >= 20 and cost.usage_estimated


async def test_a_cancelled_stream_counts_what_arrived() -> None:
    import anyio

    reply = Reply(tokens=40, stall_after_tokens=20, stall_seconds=30)
    async with Runtime() as runtime:
        server = await runtime.scripted_server()
        server.script.extend(Script(replies=[reply]))
        memory = MemoryHandler()
        run = runtime.create_run(source(TEXT.replace("AGENT", "retries = 0")), handlers=[memory])
        async with anyio.create_task_group() as group:
            group.start_soon(run.execute)
            with anyio.fail_after(20):
                while len(of_type(memory.events, "agent_stream_chunk")) < 20:
                    await anyio.sleep(0.02)
            run.cancel("enough")
    (cost,) = of_type(memory.events, "cost")
    assert memory.events[-1].type == "run_cancelled"
    assert cost.completion_tokens >= 20 and cost.usage_estimated
    assert memory.events[-1].totals.completion_tokens == cost.completion_tokens


async def test_tide_stats_counts_the_turns_whose_usage_was_estimated(tmp_path: Any) -> None:
    from runtime.store import SQLiteStore, StoreHandler

    store = SQLiteStore.for_workspace(tmp_path)
    try:
        async with Runtime(RuntimeConfig(retry_backoff_s=0.01)) as runtime:
            server = await runtime.scripted_server()
            server.script.extend(
                Script(replies=[Reply(tokens=30, send_usage=False), Reply(tokens=5)])
            )
            for _ in range(2):
                await runtime.run(
                    source(TEXT.replace("AGENT", "retries = 0")),
                    handlers=[StoreHandler(store, model=None, mock=False)],
                )
        await store.aclose()
        store = SQLiteStore.for_workspace(tmp_path)
        (row,) = await store.stats("model", include_mock=True)
        assert (row.count, row.usage_estimated) == (2, 1)
        assert row.to_json()["usage_estimated"] == 1
    finally:
        await store.aclose()
