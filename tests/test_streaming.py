"""``Runtime.stream``: a run's typed events as an async iterator, and its result."""

from __future__ import annotations

import time

import anyio
import pytest

from runtime import MemoryHandler, ProcedureSyntaxError, Runtime
from runtime.events import AgentStreamChunkEvent, RunCancelledEvent

pytestmark = pytest.mark.anyio

TOOLS = "procedures/tools.tac"
ENDLESS = """
Procedure {
  function(input)
    while true do end
  end
}
"""


async def test_the_stream_yields_every_event_in_order_and_then_the_result() -> None:
    async with Runtime() as runtime:
        recorded = MemoryHandler()
        stream = runtime.stream(TOOLS, mock=True, handlers=[recorded])
        events = [event async for event in stream]
        result = await stream.result()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events == recorded.events
    assert events[0].type == "run_started" and events[-1].type == "run_completed"
    assert {"agent_stream_chunk", "tool_call", "cost", "agent_turn"} <= {e.type for e in events}
    assert result.status == "completed"
    assert result.output == {"answer": "6 × 7 + 8 = 50", "steps": 2}
    assert stream.run_id == result.run_id == events[0].run_id


async def test_a_reader_that_blocks_does_not_stall_the_run_nor_lose_events() -> None:
    async with Runtime() as runtime:
        stream = runtime.stream(TOOLS, mock=True)
        first = await stream.__aiter__().__anext__()
        # The reader blocks the event loop's thread, then stops reading for a while: the run
        # does not wait for it.
        time.sleep(0.05)
        with anyio.fail_after(30):
            result = await stream.result()
        assert result.status == "completed"
        rest = [event async for event in stream.events(after=first.seq)]
    assert first.seq == 1
    assert [e.seq for e in rest] == list(range(2, rest[-1].seq + 1))
    assert sum(result.event_counts.values()) == rest[-1].seq


async def test_breaking_out_of_the_loop_leaves_the_run_going() -> None:
    async with Runtime() as runtime:
        stream = runtime.stream(TOOLS, mock=True)
        async for event in stream:
            if isinstance(event, AgentStreamChunkEvent):
                break
        result = await stream.result()
    assert result.status == "completed"


async def test_many_readers_each_get_every_event_and_may_resume_after_a_seq() -> None:
    async with Runtime() as runtime:
        stream = runtime.stream(TOOLS, mock=True)

        async def read(after: int) -> list[int]:
            return [event.seq async for event in stream.events(after=after)]

        results: dict[int, list[int]] = {}

        async def keep(after: int) -> None:
            results[after] = await read(after)

        async with anyio.create_task_group() as group:
            for after in (0, 0, 5):
                group.start_soon(keep, after)
        again = await read(0)
    last = again[-1]
    assert again == list(range(1, last + 1))
    assert results[0] == again
    assert results[5] == list(range(6, last + 1))


async def test_cancel_stops_the_run_with_run_cancelled() -> None:
    async with Runtime() as runtime:
        stream = runtime.stream(ENDLESS)
        async for event in stream:
            if event.type == "run_started":
                stream.cancel()
            last = event
        result = await stream.result()
    assert isinstance(last, RunCancelledEvent)
    assert result.status == "cancelled"


async def test_leaving_an_async_with_block_cancels_the_run() -> None:
    async with Runtime() as runtime:
        async with runtime.stream(ENDLESS) as stream:
            async for event in stream:
                assert event.type == "run_started"
                break
        with anyio.fail_after(30):
            result = await stream.result()
    assert result.status == "cancelled"


async def test_a_mistake_found_before_the_run_starts_is_raised_by_the_loop_and_result() -> None:
    async with Runtime() as runtime:
        stream = runtime.stream("Procedure { function(input) return 1 + end }")
        with pytest.raises(ProcedureSyntaxError):
            async for _ in stream:
                pass
        with pytest.raises(ProcedureSyntaxError):
            await stream.result()


async def test_streaming_needs_an_open_runtime() -> None:
    with pytest.raises(RuntimeError, match="async with Runtime"):
        Runtime().stream(TOOLS, mock=True)


async def test_a_file_that_cannot_be_read_ends_the_stream_with_its_error() -> None:
    from runtime import ProcedureLoadError

    async with Runtime() as runtime:
        stream = runtime.stream("procedures/no-such-file.tac", mock=True)
        assert stream.run is None and stream.run_id
        with pytest.raises(ProcedureLoadError, match="no such file"):
            await stream.started()
        with pytest.raises(ProcedureLoadError):
            await stream.result()


async def test_started_returns_once_the_run_has_started() -> None:
    async with Runtime() as runtime:
        stream = runtime.stream(TOOLS, mock=True, run_id="run-given")
        await stream.started()
        assert stream.events_so_far[0].type == "run_started"
        assert stream.run_id == "run-given" == (await stream.result()).run_id


async def test_the_stream_takes_callbacks_as_run_does() -> None:
    texts: list[str] = []

    async def on_chunk(event: AgentStreamChunkEvent) -> None:
        texts.append(event.chunk_text)

    async with Runtime() as runtime:
        stream = runtime.stream(TOOLS, mock=True, on_chunk=on_chunk)
        chunks = [e.chunk_text async for e in stream if isinstance(e, AgentStreamChunkEvent)]
        await stream.result()
    assert texts == chunks and "".join(texts) == "Let me work that out."
