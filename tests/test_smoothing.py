"""Display smoothing: text released on word or line boundaries, never held past its time, and
the run's events untouched."""

from __future__ import annotations

import anyio
import pytest

from runtime import MemoryHandler
from runtime.events import AgentStreamChunkEvent, Event
from runtime.models.function import FunctionModel
from runtime.smoothing import SmoothedHandler, Smoother, alongside
from tests.helpers import of_type, run

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_words_and_lines_are_released_at_their_boundaries() -> None:
    shown: list[str] = []
    clock = Clock()
    words = Smoother("word", shown.append, clock=clock)
    for piece in ("Hel", "lo wor", "ld, and", " more\nnext"):
        words.push(piece)
    assert shown == ["Hello ", "world, ", "and more\n"]
    assert words.held == "next"
    words.flush()
    assert "".join(shown) == "Hello world, and more\nnext"

    lines: list[str] = []
    by_line = Smoother("line", lines.append, clock=clock)
    for piece in ("one two ", "three\nfour", " five\nsix"):
        by_line.push(piece)
    assert lines == ["one two three\n", "four five\n"]
    with pytest.raises(ValueError, match="word, line"):
        Smoother("char", lines.append)  # type: ignore[arg-type]


def test_nothing_is_held_longer_than_its_time() -> None:
    shown: list[str] = []
    clock = Clock()
    smoother = Smoother("line", shown.append, max_hold=0.1, clock=clock)
    smoother.push("no newline yet")
    assert shown == [] and smoother.deadline() == pytest.approx(0.1)
    clock.now = 0.05
    smoother.push(", still")
    # The clock runs from when the held text began, not from the latest piece.
    assert shown == [] and smoother.deadline() == pytest.approx(0.1)
    clock.now = 0.1
    smoother.push(" more")
    assert shown == ["no newline yet, still more"]
    assert smoother.deadline() is None


class Shown:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.arrived = anyio.Event()

    def log(self, event: Event) -> None:
        self.events.append(event)
        self.arrived.set()

    def chunks(self) -> list[str]:
        return [e.chunk_text for e in self.events if isinstance(e, AgentStreamChunkEvent)]


async def test_held_text_goes_out_while_the_model_is_silent() -> None:
    shown = Shown()
    smoothed = SmoothedHandler(shown, "word", max_hold=0.02)
    base = {"run_id": "r", "agent": "a", "turn": 1}

    async def stream() -> None:
        await smoothed.log(AgentStreamChunkEvent(seq=1, chunk_text="Hello wo", offset=0, **base))
        assert shown.chunks() == ["Hello "]
        shown.arrived = anyio.Event()
        with anyio.fail_after(5):
            await shown.arrived.wait()
        assert shown.chunks() == ["Hello ", "wo"]
        released = [e for e in shown.events if isinstance(e, AgentStreamChunkEvent)]
        assert [e.offset for e in released] == [0, 6]
        assert released[-1].accumulated_text == "Hello wo"

    await alongside(smoothed, stream)


async def test_events_and_other_handlers_are_unaffected() -> None:
    answer = "Tide streams words, one piece at a time.\nAnd lines too."
    pieces = ["Ti", "de str", "eams wo", "rds, one piece at a ti", "me.\nAnd li", "nes too."]
    shown = Shown()
    memory = MemoryHandler()
    smoothed = SmoothedHandler(shown, "word")
    procedure = """
writer = Agent { model = "openai/gpt-4o-mini", system_prompt = "x" }
Procedure { function(input) return { text = writer("go").output } end }
"""

    async def go() -> object:
        return await run(
            procedure,
            mock=False,
            handlers=[smoothed, memory],
            models={"openai/gpt-4o-mini": FunctionModel(lambda request: pieces)},
        )

    result, events = await alongside(smoothed, go)  # type: ignore[misc]
    assert result.ok
    assert [e.chunk_text for e in of_type(events, "agent_stream_chunk")] == pieces
    assert [e.chunk_text for e in of_type(memory.events, "agent_stream_chunk")] == pieces
    assert "".join(shown.chunks()) == answer
    assert all(c.endswith((" ", "\n")) for c in shown.chunks()[:-1])
    assert [e.type for e in shown.events if e.type != "agent_stream_chunk"] == [
        e.type for e in events if e.type != "agent_stream_chunk"
    ]


async def test_a_failure_comes_out_as_it_is() -> None:
    async def broken() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        await alongside(SmoothedHandler(Shown(), "line"), broken)
