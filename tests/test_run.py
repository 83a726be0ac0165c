"""Embedding: running procedures from Python, their events, failures, cancellation, handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from runtime import (
    InputValidationError,
    JsonlHandler,
    MemoryHandler,
    ProcedureLoadError,
    ProcedureSyntaxError,
    Runtime,
    RuntimeConfig,
    parse_event,
    run_procedure,
    run_procedure_sync,
)
from runtime.chunks import ChunkViews, chunk_of
from runtime.events import TERMINAL_TYPES, AgentStreamChunkEvent, Event
from runtime.models import FunctionModel, ModelRequest, TextDelta
from runtime.run import Run, RunResult
from tests.helpers import check_sequence, of_type, run, source, types

pytestmark = pytest.mark.anyio

HELLO = """
greeter = Agent { model = "openai/gpt-4o-mini", system_prompt = "Greet {input.name}." }
Mocks { greeter = { message = "Hello there, Ada!" } }
Procedure {
  input = { name = field.string{ default = "Ada" } },
  output = { greeting = field.string{ required = true } },
  function(input)
    Log.info("greeting", { name = input.name })
    local r = greeter({ message = "Please greet " .. input.name })
    return { greeting = r.output }
  end
}
"""


# -- results and events ------------------------------------------------------------------------


async def test_run_procedure_returns_a_typed_result() -> None:
    memory = MemoryHandler()
    result = await run_procedure(source(HELLO), {"name": "Ada"}, handlers=[memory], mock=True)
    assert isinstance(result, RunResult)
    assert result.ok and result.status == "completed"
    assert result.output == {"greeting": "Hello there, Ada!"}
    assert result.error is None
    assert result.totals.agent_turns == 1
    assert result.totals.llm_calls == 1
    assert result.totals.duration_ms > 0
    assert result.agent_turns == {"greeter": 1}
    assert result.event_counts == {
        "run_started": 1,
        "log": 1,
        "agent_turn": 2,
        "agent_stream_chunk": 3,
        "cost": 1,
        "output_validation": 1,
        "run_completed": 1,
    }
    assert {e.run_id for e in memory.events} == {result.run_id}


async def test_event_order_of_a_mocked_run() -> None:
    result, events = await run(HELLO)
    assert types(events) == [
        "run_started",
        "log",
        "agent_turn",
        "agent_stream_chunk",
        "agent_stream_chunk",
        "agent_stream_chunk",
        "cost",
        "agent_turn",
        "output_validation",
        "run_completed",
    ]
    started, *_ = events
    assert started.procedure == "proc.tac"
    assert started.inputs == {"name": "Ada"}
    turns = of_type(events, "agent_turn")
    assert [t.stage for t in turns] == ["started", "completed"]
    assert turns[1].text == "Hello there, Ada!"
    assert "".join(c.chunk_text for c in of_type(events, "agent_stream_chunk")) == turns[1].text
    completed = events[-1]
    assert completed.output == result.output
    assert completed.totals == result.totals


async def test_run_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "hello.tac"
    path.write_text(HELLO)
    result = await run_procedure(path, mock=True)
    assert result.output == {"greeting": "Hello there, Ada!"}
    result = await run_procedure(str(path), mock=True)
    assert result.output == {"greeting": "Hello there, Ada!"}


def test_run_procedure_sync() -> None:
    result = run_procedure_sync(HELLO, {"name": "Grace"}, mock=True)
    assert result.output == {"greeting": "Hello there, Ada!"}


async def test_mistakes_found_before_the_start_raise_and_emit_nothing() -> None:
    memory = MemoryHandler()
    with pytest.raises(InputValidationError) as caught:
        await run_procedure(source(HELLO), {"nmae": "x"}, handlers=[memory], mock=True)
    assert [i.path for i in caught.value.issues] == ["nmae"]
    with pytest.raises(ProcedureSyntaxError) as syntax:
        await run_procedure(source("Procedure {\n  function(input\n}\n"), handlers=[memory])
    assert (syntax.value.file, syntax.value.line) == ("proc.tac", 3)
    with pytest.raises(ProcedureLoadError, match="is empty"):
        await run_procedure("   \n")
    assert memory.events == []


async def test_seq_is_strictly_increasing_over_a_busy_run() -> None:
    text = """
a = Agent { model = "m/x" }
b = Agent { model = "m/x" }
t = Tool { function(args) return args.n * 2 end }
Mocks { a = { message = "alpha beta gamma" }, b = { message = "one two" } }
Procedure {
  function(input)
    for i = 1, 5 do
      Log.info("round", { i = i })
      a("go")
      t({ n = i })
      b("go")
    end
    return { done = true }
  end
}
"""
    result, events = await run(text)
    assert result.ok
    assert len(events) == sum(result.event_counts.values())
    assert result.totals.agent_turns == 10
    assert result.totals.tool_calls == 5


# -- failures --------------------------------------------------------------------------------


async def test_runtime_error_fails_the_run_with_file_and_line() -> None:
    text = (
        'Procedure {\n  function(input)\n    Log.info("before")\n    error("it broke")\n  end\n}\n'
    )
    result, events = await run(text)
    assert result.status == "failed"
    assert types(events) == ["run_started", "log", "run_failed"]
    failed = events[-1]
    assert failed.error.kind == "runtime"
    assert failed.error.message == "it broke"
    assert (failed.error.file, failed.error.line) == ("proc.tac", 4)
    assert failed.error.location() == "proc.tac:4"


async def test_output_validation_failure_keeps_the_unvalidated_output() -> None:
    text = """
Procedure {
  output = { title = field.string{ required = true }, score = field.integer{} },
  function(input) return { score = "high" } end
}
"""
    result, events = await run(text)
    assert types(events) == ["run_started", "output_validation", "run_failed"]
    validation, failed = events[1], events[2]
    assert validation.target == "procedure"
    assert validation.ok is False
    assert {e.path for e in validation.errors} == {"title", "score"}
    assert validation.raw == {"score": "high"}
    assert failed.error.kind == "output_validation"
    assert failed.output == {"score": "high"}
    assert result.status == "failed"
    assert result.output == {"score": "high"}


async def test_output_validation_success_coerces() -> None:
    text = "Procedure {\n  output = { n = field.number{} },\n  function(input) return { n = 2 } end\n}\n"
    result, events = await run(text)
    (validation,) = of_type(events, "output_validation")
    assert validation.ok is True and validation.errors == []
    assert result.output == {"n": 2.0}


async def test_timeout_fails_the_run() -> None:
    text = "Procedure { function(input) while true do end end }\n"
    result, events = await run(text, timeout_s=0.2)
    assert result.status == "failed"
    assert events[-1].type == "run_failed"
    assert events[-1].error.kind == "timeout"


async def test_timeout_during_an_agent_turn() -> None:
    async def never(request: ModelRequest) -> AsyncIterator[TextDelta]:
        yield TextDelta("partial ")
        await anyio.sleep_forever()

    text = 'slow = Agent { model = "t/slow" }\nProcedure { function(input) return { r = slow("x").output } end }\n'
    result, events = await run(text, timeout_s=0.3, models={"t/slow": FunctionModel(never)})
    assert result.status == "failed"
    assert result.error is not None and result.error.kind == "timeout"
    assert [t.stage for t in of_type(events, "agent_turn")] == ["started", "failed"]


# -- cancellation -------------------------------------------------------------------------------


async def execute_and_cancel(
    text: str,
    when: Callable[[Event], bool],
    reason: str = "cancelled",
    **options: Any,
) -> tuple[RunResult, list[Event]]:
    """Run ``text``; call ``run.cancel(reason)`` from outside once an event matches ``when``."""
    memory = MemoryHandler()
    seen = anyio.Event()

    class Trigger:
        def log(self, event: Event) -> None:
            if when(event):
                seen.set()

    async with Runtime() as runtime:
        procedure: Run = runtime.create_run(
            source(text), handlers=[memory, Trigger()], mock=True, **options
        )
        outcome: dict[str, RunResult] = {}

        async def execute() -> None:
            outcome["result"] = await procedure.execute()

        async with anyio.create_task_group() as group:
            group.start_soon(execute)
            with anyio.move_on_after(20):
                await seen.wait()
            procedure.cancel(reason)
    check_sequence(memory.events)
    return outcome["result"], memory.events


def log_says(message: str) -> Callable[[Event], bool]:
    return lambda event: event.type == "log" and event.message == message


async def test_cancel_before_the_run_starts() -> None:
    memory = MemoryHandler()
    async with Runtime() as runtime:
        procedure = runtime.create_run(source(HELLO), handlers=[memory], mock=True)
        procedure.cancel()
        result = await procedure.execute()
    assert result.status == "cancelled"
    assert types(memory.events) == ["run_started", "run_cancelled"]


@pytest.mark.timeout(30)
async def test_cancel_during_a_pure_lua_loop() -> None:
    text = 'Procedure { function(input) Log.info("looping") while true do end end }\n'
    result, events = await execute_and_cancel(text, log_says("looping"))
    assert result.status == "cancelled"
    assert result.error is not None and result.error.kind == "cancelled"
    assert types(events) == ["run_started", "log", "run_cancelled"]


@pytest.mark.timeout(30)
async def test_a_cancel_gives_its_reason() -> None:
    text = 'Procedure { function(input) Log.info("looping") while true do end end }\n'
    result, events = await execute_and_cancel(text, log_says("looping"), reason="my reason")
    assert result.status == "cancelled"
    assert result.error is not None and "my reason" in result.error.message
    assert types(events) == ["run_started", "log", "run_cancelled"]
    assert events[-1].reason == "my reason"


@pytest.mark.timeout(30)
async def test_a_cancel_while_the_model_libraries_load_takes_effect_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Loading DSPy and LiteLLM takes seconds on a first call; a cancel does not wait for it."""
    import threading

    from runtime.models import _dspy

    loading, release = threading.Event(), threading.Event()

    def slow_import() -> None:
        loading.set()
        # Long enough that a run waiting for it misses the deadline below.
        release.wait(8)

    monkeypatch.setattr(_dspy, "configured", lambda: False)
    monkeypatch.setattr(_dspy, "ensure_configured", slow_import)
    memory = MemoryHandler()
    text = 'w = Agent { model = "scripted/default" }\nProcedure { function(input) return { r = w("hi").output } end }\n'
    try:
        async with Runtime() as runtime:
            for model in ("scripted/default", "openai/gpt-4o-mini"):
                loading.clear()
                procedure = runtime.create_run(source(text), handlers=[memory], model=model)
                outcome: dict[str, RunResult] = {}

                async def execute(
                    run: Run = procedure, into: dict[str, RunResult] = outcome
                ) -> None:
                    into["result"] = await run.execute()

                with anyio.fail_after(4):
                    async with anyio.create_task_group() as group:
                        group.start_soon(execute)
                        await anyio.to_thread.run_sync(loading.wait)
                        procedure.cancel("not now")
                assert outcome["result"].status == "cancelled", model
                assert memory.events[-1].type == "run_cancelled"
                assert memory.events[-1].reason == "not now"
    finally:
        release.set()


@pytest.mark.timeout(30)
async def test_cancel_during_a_loop_that_catches_errors() -> None:
    text = (
        "Procedure { function(input)\n"
        '  Log.info("looping")\n'
        "  while true do pcall(function() while true do end end) end\n"
        "end }\n"
    )
    result, _ = await execute_and_cancel(text, log_says("looping"))
    assert result.status == "cancelled"


@pytest.mark.timeout(30)
async def test_cancel_during_an_agent_turn_keeps_the_partial_text() -> None:
    async def stalls(request: ModelRequest) -> AsyncIterator[TextDelta]:
        yield TextDelta("Once upon ")
        await anyio.sleep_forever()

    text = 'teller = Agent { model = "t/stall" }\nProcedure { function(input) return { s = teller("go").output } end }\n'
    result, events = await execute_and_cancel(
        text,
        lambda e: e.type == "agent_stream_chunk",
        models={"t/stall": FunctionModel(stalls)},
    )
    assert result.status == "cancelled"
    turns = of_type(events, "agent_turn")
    assert [t.stage for t in turns] == ["started", "failed"]
    assert turns[1].error.kind == "cancelled"
    assert turns[1].text == "Once upon "
    assert events[-1].type == "run_cancelled"
    assert events[-1].partial_text == "Once upon "


@pytest.mark.timeout(30)
async def test_cancel_during_a_tool_inside_a_turn() -> None:
    text = """
spin = Tool { function(args) Log.info("spinning") while true do end end }
worker = Agent { model = "m/x", tools = { spin } }
Mocks { worker = { tool_calls = { { tool = "spin", args = {} } } } }
Procedure { function(input) return { r = worker("go").output } end }
"""
    result, events = await execute_and_cancel(text, log_says("spinning"))
    assert result.status == "cancelled"
    assert events[-1].type == "run_cancelled"


async def test_cancel_at_every_point_of_a_run() -> None:
    """Whenever it comes, a cancel ends the run with exactly one terminal event."""
    text = """
t = Tool { function(args) return args.n end }
a = Agent { model = "m/x", tools = { t } }
Mocks { a = { message = "some words to stream", tool_calls = { { tool = "t", args = { n = 1 } } } } }
Procedure {
  function(input)
    Log.info("start")
    local r = a("go")
    t({ n = 2 })
    Log.info("end")
    return { r = r.output }
  end
}
"""
    _, reference = await run(text)
    statuses = set()
    for seq in range(1, len(reference)):
        result, events = await execute_and_cancel(text, lambda e, s=seq: e.seq == s)
        statuses.add(result.status)
        assert result.status in ("cancelled", "completed")
        assert events[-1].type == f"run_{result.status}"
    assert "cancelled" in statuses


@pytest.mark.timeout(30)
async def test_cancelled_from_an_enclosing_scope() -> None:
    memory = MemoryHandler()
    seen = anyio.Event()

    class Trigger:
        def log(self, event: Event) -> None:
            if event.type == "log":
                seen.set()

    text = 'Procedure { function(input) Log.info("looping") while true do end end }\n'
    async with Runtime() as runtime, anyio.create_task_group() as group:

        async def execute() -> None:
            await runtime.run(source(text), handlers=[memory, Trigger()])

        group.start_soon(execute)
        await seen.wait()
        group.cancel_scope.cancel()
    check_sequence(memory.events)
    assert types(memory.events) == ["run_started", "log", "run_cancelled"]


# -- concurrency ----------------------------------------------------------------------------------


@pytest.mark.timeout(60)
async def test_many_concurrent_runs_in_one_loop() -> None:
    text = """
echo = Agent { model = "m/x" }
Mocks { echo = { message = "echo reply" } }
Procedure {
  input = { n = field.integer{ required = true } },
  function(input)
    local r = echo("number " .. input.n)
    local total = 0
    for i = 1, input.n do total = total + i end
    return { n = input.n, total = total, reply = r.output }
  end
}
"""
    count = 200
    results: dict[int, RunResult] = {}
    memories = {n: MemoryHandler() for n in range(count)}
    async with Runtime() as runtime:

        async def one(n: int) -> None:
            results[n] = await runtime.run(
                source(text), {"n": n}, handlers=[memories[n]], mock=True
            )

        async with anyio.create_task_group() as group:
            for n in range(count):
                group.start_soon(one, n)
    assert len(results) == count
    for n, result in results.items():
        assert result.status == "completed", result.error
        assert result.output == {"n": n, "total": n * (n + 1) // 2, "reply": "echo reply"}
        events = memories[n].events
        check_sequence(events)
        assert {e.run_id for e in events} == {result.run_id}
    assert len({r.run_id for r in results.values()}) == count


# -- handlers ---------------------------------------------------------------------------------------


async def test_a_slow_handler_does_not_stall_the_run() -> None:
    """The slow handler cannot take its first event until the run is over: if it held the
    run up, the run would never end (and the test time out)."""
    finished = anyio.Event()
    slow_seen: list[str] = []

    class Slow:
        async def log(self, event: Event) -> None:
            await finished.wait()
            slow_seen.append(event.type)

    class Watcher:
        def log(self, event: Event) -> None:
            if event.type in TERMINAL_TYPES:
                finished.set()

    result, events = await run(HELLO, handlers=[Slow(), Watcher()])
    assert result.ok
    # The slow handler still got every event, in order, before the run returned.
    assert slow_seen == types(events)


async def test_a_failing_handler_is_reported_once() -> None:
    class Broken:
        calls = 0

        def log(self, event: Event) -> None:
            Broken.calls += 1
            raise RuntimeError("disk full")

    result, events = await run(HELLO, handlers=[Broken()])
    assert result.ok
    notices = [e for e in of_type(events, "log") if e.message.startswith("log handler")]
    assert len(notices) == 1
    notice = notices[0]
    assert notice.level == "error"
    assert notice.message == "log handler Broken failed: RuntimeError: disk full"
    assert notice.fields == {"handler": "Broken"}
    # It kept being called (and failing) without more notices.
    assert Broken.calls > 1


async def test_async_handlers_are_awaited() -> None:
    seen: list[str] = []

    class Async:
        async def log(self, event: Event) -> None:
            await anyio.lowlevel.checkpoint()
            seen.append(event.type)

    _, events = await run(HELLO, handlers=[Async()])
    assert seen == types(events)


async def test_jsonl_handler_writes_events_that_parse_back(tmp_path: Path) -> None:
    path = tmp_path / "out" / "events.jsonl"
    jsonl = JsonlHandler(path)
    try:
        _, events = await run(HELLO, handlers=[jsonl])
    finally:
        jsonl.close()
    lines = path.read_text().splitlines()
    assert len(lines) == len(events)
    # A chunk's line holds the chunk only: its turn's text is rebuilt by offset.
    views = ChunkViews()
    parsed = []
    for line in lines:
        event = parse_event(line)
        if isinstance(event, AgentStreamChunkEvent):
            assert "accumulated_text" not in line
            event = views.view(chunk_of(event), event.run_id)
        parsed.append(event)
    chunks = [e for e in events if e.type == "agent_stream_chunk"]
    assert chunks and len({e.ts for e in chunks}) > 1
    assert [p.model_dump(exclude={"ts"}) for p in parsed] == [
        e.model_dump(exclude={"ts"}) for e in events
    ]


async def test_jsonl_handler_lines_do_not_grow_with_the_answer(tmp_path: Path) -> None:
    text = HELLO.replace("Hello there, Ada!", "word " * 20_000)
    path = tmp_path / "events.jsonl"
    jsonl = JsonlHandler(path)
    try:
        _, events = await run(text, handlers=[jsonl])
    finally:
        jsonl.close()
    chunks = [e for e in events if e.type == "agent_stream_chunk"]
    assert len(chunks) > 1000
    # Each chunk's line is its own few bytes, not the answer so far: linear, not quadratic.
    assert path.stat().st_size < 300 * len(events)


async def test_memory_handler_helpers() -> None:
    memory = MemoryHandler()
    await run_procedure(source(HELLO), handlers=[memory], mock=True)
    assert memory.types()[0] == "run_started"
    assert [e.type for e in memory.of_type("cost")] == ["cost"]


async def test_runtime_config_limits_apply() -> None:
    config = RuntimeConfig(timeout_s=0.2)
    result, _ = await run("Procedure { function(input) while true do end end }\n", config=config)
    assert result.error is not None and result.error.kind == "timeout"
