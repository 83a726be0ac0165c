"""The console handler: what a run looks like in a terminal, plain when not a TTY."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from runtime.cli import main
from runtime.console import ConsoleHandler, format_cost, format_ms
from runtime.events import (
    AgentStreamChunkEvent,
    AgentTurnEvent,
    ErrorInfo,
    LogEvent,
    OutputValidationEvent,
    RunCancelledEvent,
    RunFailedEvent,
    RunTotals,
    ToolCallEvent,
    ValidationIssue,
)
from tests.helpers import run

pytestmark = pytest.mark.anyio

PROCEDURE = """
multiply = Tool { function(args) return args.a * args.b end }
calc = Agent { model = "openai/gpt-4o-mini", tools = { multiply } }
Mocks {
  calc = { message = "Six times seven is [bold]42[/bold].",
           tool_calls = { { tool = "multiply", args = { a = 6, b = 7 } } } },
}
Procedure {
  function(input)
    Log.info("starting", { n = 1 })
    Log.debug("hidden unless verbose")
    return { answer = calc("6*7?").output }
  end
}
"""


def render(events: list[Any], **options: Any) -> str:
    out = io.StringIO()
    handler = ConsoleHandler(out, **options)
    for event in events:
        handler.log(event)
    return out.getvalue()


async def test_a_run_in_plain_text() -> None:
    _, events = await run(PROCEDURE)
    text = render(events)
    assert "\x1b[" not in text
    lines = text.splitlines()
    assert lines[0].startswith("▶ proc.tac run ")
    assert "calc (turn 1 · openai/gpt-4o-mini)" in lines
    # The streamed text is written as it came, markup and all, on one line.
    assert "Six times seven is [bold]42[/bold]." in lines
    (call,) = [line for line in lines if line.startswith("  ⚙ multiply({")]
    # Lua tables have no key order.
    assert sorted(call.removeprefix("  ⚙ multiply({").removesuffix("})").split(", ")) == [
        '"a": 6',
        '"b": 7',
    ]
    assert any(line.startswith("    → 42 · ") for line in lines)
    assert any(line.startswith("  ↳ 0 tokens (0 in / 0 out) · $0 · first token ") for line in lines)
    assert "  info starting n=1" in lines
    assert "hidden unless verbose" not in text
    assert any(line.startswith("✓ completed ") and "1 turns" in line for line in lines)
    # The output, as JSON, at the end.
    assert text.rstrip().endswith('{\n  "answer": "Six times seven is [bold]42[/bold]."\n}')


async def test_verbose_shows_debug_logs_and_validation_passes() -> None:
    _, events = await run(
        'Procedure { output = { a = field.string{} },\n  function(input) Log.debug("dbg") return { a = "x" } end }\n'
    )
    text = render(events, verbose=True)
    assert "  debug dbg" in text
    assert "✓ procedure output is valid" in text


async def test_output_can_be_left_out() -> None:
    _, events = await run(PROCEDURE)
    assert '"answer"' not in render(events, show_output=False)


def event(kind: type, **fields: Any) -> Any:
    return kind(run_id="r1", seq=1, **fields)


def test_failure_shows_where_what_to_do_and_what_was_kept() -> None:
    failed = event(
        RunFailedEvent,
        error=ErrorInfo(
            kind="output_validation",
            message="it broke",
            file="proc.tac",
            line=4,
            hint="fix line 4",
        ),
        partial_text="Half an answer",
        output={"score": "high"},
        totals=RunTotals(duration_ms=1500, agent_turns=2, total_tokens=30, cost_usd=0.00123),
    )
    validation = event(
        OutputValidationEvent,
        target="procedure",
        ok=False,
        errors=[ValidationIssue(path="title", message="Field required")],
    )
    text = render([validation, failed])
    lines = text.splitlines()
    assert "  ✗ procedure output does not match its declaration:" in lines
    assert "    title: Field required" in lines
    assert "✗ failed proc.tac:4: it broke" in lines
    assert "  hint: fix line 4" in lines
    assert "  partial text kept (14 characters)" in lines
    assert "  unvalidated output:" in lines
    assert '  "score": "high"' in lines
    assert "  1.50 s · 2 turns · 30 tokens · $0.0012" in lines


def test_chunks_of_interleaved_agents_are_labelled() -> None:
    def chunk(agent: str, text: str, offset: int) -> Any:
        return event(AgentStreamChunkEvent, agent=agent, turn=1, chunk_text=text, offset=offset)

    text = render(
        [
            event(AgentTurnEvent, agent="a", turn=1, stage="started", model="m"),
            chunk("a", "Hello ", 0),
            chunk("b", "Other", 0),
            chunk("a", "world", 6),
            event(
                AgentTurnEvent,
                agent="a",
                turn=1,
                stage="failed",
                error=ErrorInfo(kind="model", message="lost"),
            ),
            event(ToolCallEvent, tool="t", call_id="c", stage="failed", error="bad args"),
            event(LogEvent, level="warn", message="[red]not markup[/red]"),
            event(RunCancelledEvent, totals=RunTotals()),
        ]
    )
    lines = text.splitlines()
    assert "Hello " in lines
    assert "Other" in lines
    assert "a (continued)" in lines
    assert "world" in lines
    assert "  ✗ turn failed: lost" in lines
    assert "    ✗ bad args" in lines
    assert "  warn [red]not markup[/red] " in lines
    assert any(line.startswith("■ cancelled ") for line in lines)


@pytest.mark.parametrize(("usd", "text"), [(0, "$0"), (0.5, "$0.5000"), (0.00001234, "$0.000012")])
def test_format_cost(usd: float, text: str) -> None:
    assert format_cost(usd) == text


@pytest.mark.parametrize(("ms", "text"), [(None, "–"), (12.4, "12 ms"), (2500, "2.50 s")])
def test_format_ms(ms: float | None, text: str) -> None:
    assert format_ms(ms) == text


def test_debug_shows_what_the_failing_component_said() -> None:
    error = ErrorInfo(kind="model", message="the model refused", detail="HTTP 400: raw words")
    turn = event(AgentTurnEvent, agent="w", turn=1, stage="failed", error=error)
    failed = event(RunFailedEvent, error=error)
    assert "raw words" not in render([turn, failed])
    shown = render([turn, failed], debug=True).splitlines()
    assert shown.count("  detail: HTTP 400: raw words") == 2


def test_tide_run_debug_prints_the_detail_of_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ask.tac").write_text(ASKS_A_MODEL)
    script = {"replies": [{"status": 400, "error": "the raw words of the provider"}]}
    (tmp_path / "script.json").write_text(json.dumps(script))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TIDE_SCRIPTED_SCRIPT", str(tmp_path / "script.json"))
    assert main(["run", "ask.tac", "--no-store", "-q", "--debug"]) == 1
    shown = capsys.readouterr().err
    message, detail = shown.split("detail:")
    assert "HTTP 400" in message and "the raw words of the provider" in detail


ASKS_A_MODEL = """
writer = Agent { model = "scripted/default", retries = 0 }
Procedure { function() return { text = writer("Hi").output } end }
"""
