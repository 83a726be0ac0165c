"""The event bus: numbering, one buffered feed per handler, failing handlers, the end of a run."""

from __future__ import annotations

import anyio
import pytest

from runtime.bus import EventBus
from runtime.events import Event, LogEvent, RunCompletedEvent, RunStartedEvent

pytestmark = pytest.mark.anyio


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def log(self, event: Event) -> None:
        self.events.append(event)


class SlowRecorder(Recorder):
    async def log(self, event: Event) -> None:  # type: ignore[override]
        await anyio.sleep(0.01)
        self.events.append(event)


class Failing:
    def __init__(self) -> None:
        self.calls = 0

    def log(self, event: Event) -> None:
        self.calls += 1
        raise ValueError("disk full")


async def test_every_handler_gets_every_event_numbered_in_order() -> None:
    plain, slow = Recorder(), SlowRecorder()
    bus = EventBus("r1", [plain, slow])
    async with anyio.create_task_group() as group:
        bus.start(group)
        started = bus.emit(RunStartedEvent, procedure="p.tac", inputs={})
        for n in range(3):
            bus.emit(LogEvent, level="info", message=f"line {n}")
        bus.emit(RunCompletedEvent)
        await bus.close(group)
    assert started.seq == 1 and started.run_id == "r1"
    for handler in (plain, slow):
        assert [e.seq for e in handler.events] == [1, 2, 3, 4, 5]
        assert handler.events[-1].type == "run_completed"
    assert bus.counts == {"run_started": 1, "log": 3, "run_completed": 1}
    assert bus.last_seq == 5


async def test_a_reserved_number_is_not_given_twice() -> None:
    bus = EventBus("r1", [])
    reserved = bus.next_seq()
    assert bus.emit(LogEvent, level="info", message="after").seq == reserved + 1


async def test_a_failing_handler_is_reported_once_to_the_others() -> None:
    failing, watcher = Failing(), Recorder()
    bus = EventBus("r1", [failing, watcher])
    async with anyio.create_task_group() as group:
        bus.start(group)
        bus.emit(LogEvent, level="info", message="one")
        bus.emit(LogEvent, level="info", message="two")
        # The handlers take their events while the run goes on; a notice sent once the bus
        # is closed is dropped.
        await anyio.wait_all_tasks_blocked()
        await bus.close(group)
    assert failing.calls == 2
    notices = [e for e in watcher.events if isinstance(e, LogEvent) and e.level == "error"]
    assert len(notices) == 1
    assert notices[0].message == "log handler Failing failed: ValueError: disk full"
    # The notice follows the event that caused it, and the numbering stays in order.
    assert [e.message for e in watcher.events if isinstance(e, LogEvent)] == [
        "one",
        notices[0].message,
        "two",
    ]
    assert [e.seq for e in watcher.events] == sorted(e.seq for e in watcher.events)


async def test_closing_waits_for_a_slow_handler_and_then_stops_dispatching() -> None:
    slow = SlowRecorder()
    bus = EventBus("r1", [slow])
    async with anyio.create_task_group() as group:
        bus.start(group)
        for n in range(5):
            bus.emit(LogEvent, level="info", message=str(n))
        await bus.close(group)
        assert len(slow.events) == 5
        bus.emit(LogEvent, level="info", message="late")
    assert len(slow.events) == 5
    assert bus.counts["log"] == 6


async def test_a_plain_handler_with_nothing_waiting_has_the_event_when_emit_returns() -> None:
    plain, slow = Recorder(), SlowRecorder()
    bus = EventBus("r1", [plain, slow])
    async with anyio.create_task_group() as group:
        bus.start(group)
        bus.emit(LogEvent, level="info", message="now")
        # No turn of the event loop in between: the plain handler was called in emit.
        assert [e.seq for e in plain.events] == [1]
        assert slow.events == []
        await bus.close(group)
    assert [e.seq for e in slow.events] == [1]


async def test_an_event_a_handler_causes_reaches_it_after_the_one_it_is_handling() -> None:
    class Echo(Recorder):
        def __init__(self) -> None:
            super().__init__()
            self.bus: EventBus | None = None
            self.busy = False

        def log(self, event: Event) -> None:
            assert not self.busy, "called again before it returned"
            self.busy = True
            if isinstance(event, LogEvent) and event.message == "ping" and self.bus is not None:
                self.bus.emit(LogEvent, level="info", message="pong")
            self.events.append(event)
            self.busy = False

    echo, other = Echo(), Recorder()
    bus = EventBus("r1", [echo, other])
    echo.bus = bus
    async with anyio.create_task_group() as group:
        bus.start(group)
        bus.emit(LogEvent, level="info", message="ping")
        bus.emit(LogEvent, level="info", message="after")
        await bus.close(group)
    for handler in (echo, other):
        assert [e.seq for e in handler.events] == [1, 2, 3]
        assert [e.message for e in handler.events if isinstance(e, LogEvent)] == [
            "ping",
            "pong",
            "after",
        ]


async def test_what_a_handler_returns_to_await_holds_its_next_events_back() -> None:
    seen: list[str] = []
    gate = anyio.Event()

    class Deferred:
        def log(self, event: Event) -> object:
            message = event.message if isinstance(event, LogEvent) else event.type

            async def finish() -> None:
                if message == "first":
                    await gate.wait()
                seen.append(message)

            return finish()

    bus = EventBus("r1", [Deferred()])
    async with anyio.create_task_group() as group:
        bus.start(group)
        bus.emit(LogEvent, level="info", message="first")
        bus.emit(LogEvent, level="info", message="second")
        await anyio.wait_all_tasks_blocked()
        assert seen == []
        gate.set()
        await bus.close(group)
    assert seen == ["first", "second"]
