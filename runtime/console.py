"""The terminal's view of a run: agents' text as it streams, tool calls, a cost line per turn,
and a summary. Colour on a terminal, plain text otherwise."""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from rich.console import Console
from rich.markup import escape

from runtime.events import (
    AgentStreamChunkEvent,
    AgentTurnEvent,
    CostEvent,
    ErrorInfo,
    Event,
    HumanRequestEvent,
    HumanResponseEvent,
    LogEvent,
    ModelPredictionEvent,
    OutputValidationEvent,
    RunCancelledEvent,
    RunCompletedEvent,
    RunFailedEvent,
    RunStartedEvent,
    RunTotals,
    SystemAlertEvent,
    ToolCallEvent,
)

_LEVEL_STYLE = {"debug": "dim", "info": "cyan", "warn": "yellow", "error": "bold red"}
_ALERT_STYLE = {"info": "cyan", "warning": "yellow", "error": "bold red", "critical": "bold red"}


def format_cost(usd: float) -> str:
    if usd == 0:
        return "$0"
    return f"${usd:.4f}" if usd >= 0.0001 else f"${usd:.6f}"


def format_ms(ms: float | None) -> str:
    if ms is None:
        return "–"
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ConsoleHandler:
    """Prints a run as it happens. ``show_output`` prints the final output at the end;
    ``debug`` prints what a failed component said (``ErrorInfo.detail``: a provider's own
    message, a traceback) under each error."""

    def __init__(
        self,
        file: IO[str] | None = None,
        *,
        show_output: bool = True,
        verbose: bool = False,
        debug: bool = False,
    ) -> None:
        self.console = Console(file=file or sys.stdout, highlight=False, soft_wrap=True)
        self.show_output = show_output
        self.verbose = verbose
        self.debug = debug
        self._streaming: tuple[str, int] | None = None

    def log(self, event: Event) -> None:
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is not None:
            handler(event)

    def _end_stream(self) -> None:
        if self._streaming is not None:
            self.console.file.write("\n")
            self._streaming = None

    def _on_run_started(self, event: RunStartedEvent) -> None:
        inputs = " ".join(f"{k}={_short(v, 40)}" for k, v in event.inputs.items())
        resumed = " [bold]resumed[/]" if event.resumed else ""
        self.console.print(
            f"[bold]▶ {escape(event.procedure)}[/]{resumed} "
            f"[dim]run {event.run_id} {escape(inputs)}[/]"
        )

    def _on_agent_turn(self, event: AgentTurnEvent) -> None:
        if event.stage == "started":
            self._end_stream()
            self.console.print(
                f"\n[bold magenta]{escape(event.agent)}[/] [dim](turn {event.turn} · {escape(event.model or '')})[/]"
            )
        elif event.stage == "failed":
            self._end_stream()
            error = event.error.message if event.error else "failed"
            self.console.print(f"  [red]✗ turn failed: {escape(error)}[/]")
            self._detail(event.error)

    def _detail(self, error: ErrorInfo | None) -> None:
        if self.debug and error is not None and error.detail:
            self.console.print(f"  [dim]detail:[/] {escape(error.detail.rstrip())}")

    def _on_agent_stream_chunk(self, event: AgentStreamChunkEvent) -> None:
        key = (event.agent, event.turn)
        if self._streaming != key:
            self._end_stream()
            if event.offset > 0:
                self.console.print(f"[dim]{escape(event.agent)} (continued)[/]")
            self._streaming = key
        # Raw text, not Rich markup: model output may contain brackets.
        self.console.file.write(event.chunk_text)
        self.console.file.flush()

    def _on_tool_call(self, event: ToolCallEvent) -> None:
        if event.stage == "started":
            self._end_stream()
            self.console.print(
                f"  [blue]⚙ {escape(event.tool)}[/]({escape(_short(event.args, 120))})"
            )
        elif event.stage == "completed":
            self.console.print(
                f"    [dim]→ {escape(_short(event.result))} · {format_ms(event.duration_ms)}[/]"
            )
        else:
            self.console.print(f"    [red]✗ {escape(event.error or 'failed')}[/]")

    def _on_model_prediction(self, event: ModelPredictionEvent) -> None:
        if event.stage == "started":
            return
        self._end_stream()
        if event.stage == "completed":
            how = "mocked" if event.mocked else event.backend
            self.console.print(
                f"  [green]◆ {escape(event.model)}[/]({escape(_short(event.input, 80))})"
                f" [dim]→ {escape(_short(event.output))} · {how} · {format_ms(event.duration_ms)}[/]"
            )
        else:
            self.console.print(
                f"  [red]◆ {escape(event.model)} failed: {escape(event.error or 'failed')}[/]"
            )

    def _on_cost(self, event: CostEvent) -> None:
        self._end_stream()
        seconds = event.duration_ms / 1000
        rate = (
            f" · {event.completion_tokens / seconds:.0f} tok/s"
            if event.completion_tokens and seconds > 0
            else ""
        )
        cached = " · cached" if event.cached else ""
        cached += "" if event.streamed else " · not streamed"
        visible, ttft = event.first_visible_token_ms, event.time_to_first_token_ms
        if visible is not None and ttft is not None and visible - ttft >= 1:
            cached += f" · first text after {format_ms(visible)}"
        about = "~" if event.usage_estimated else ""
        estimated = " (estimated)" if event.usage_estimated else ""
        self.console.print(
            f"  [dim]↳ {about}{event.total_tokens} tokens{estimated} ({event.prompt_tokens} in / {event.completion_tokens} out)"
            f" · {format_cost(event.cost_usd)} · first token {format_ms(event.time_to_first_token_ms)}"
            f" · {format_ms(event.duration_ms)}{rate}{cached}[/]"
        )

    def _on_output_validation(self, event: OutputValidationEvent) -> None:
        if event.ok:
            if self.verbose:
                self.console.print(f"  [green]✓ {escape(event.target)} output is valid[/]")
            return
        self._end_stream()
        if event.retried:
            self.console.print(
                f"  [yellow]↻ {escape(event.target)} output does not match its declaration"
                f" (attempt {event.attempt}); asked again:[/]"
            )
        else:
            self.console.print(
                f"  [red]✗ {escape(event.target)} output does not match its declaration:[/]"
            )
        for issue in event.errors:
            self.console.print(f"    [red]{escape(issue.path)}[/]: {escape(issue.message)}")

    def _on_log(self, event: LogEvent) -> None:
        if event.level == "debug" and not self.verbose:
            return
        self._end_stream()
        fields = " ".join(f"{k}={_short(v, 60)}" for k, v in event.fields.items())
        style = _LEVEL_STYLE[event.level]
        self.console.print(
            f"  [{style}]{event.level}[/] {escape(event.message)} [dim]{escape(fields)}[/]"
        )

    def _on_system_alert(self, event: SystemAlertEvent) -> None:
        self._end_stream()
        style = _ALERT_STYLE[event.level]
        where = f" [dim]({escape(event.source)})[/]" if event.source else ""
        self.console.print(f"  [{style}]⚠ {event.level}[/] {escape(event.message)}{where}")

    def _summary(self, totals: RunTotals) -> str:
        return (
            f"{format_ms(totals.duration_ms)} · {totals.agent_turns} turns · {totals.total_tokens} tokens"
            f" · {format_cost(totals.cost_usd)}"
        )

    def _on_human_request(self, event: HumanRequestEvent) -> None:
        self._end_stream()
        self.console.print(f"\n[bold yellow]? {escape(event.message)}[/] [dim]({event.kind})[/]")

    def _on_human_response(self, event: HumanResponseEvent) -> None:
        by = "" if event.answered_by == "person" else f" ({event.answered_by})"
        self.console.print(f"  [dim]answered: {escape(_short(event.value, 60))}{by}[/]")

    def _on_run_completed(self, event: RunCompletedEvent) -> None:
        self._end_stream()
        self.console.print(f"\n[bold green]✓ completed[/] [dim]{self._summary(event.totals)}[/]")
        if self.show_output and event.output is not None:
            self.console.print_json(json.dumps(event.output, ensure_ascii=False, default=str))

    def _on_run_failed(self, event: RunFailedEvent) -> None:
        self._end_stream()
        where = event.error.location()
        prefix = f"{where}: " if where else ""
        self.console.print(f"\n[bold red]✗ failed[/] {escape(prefix + event.error.message)}")
        if event.error.hint:
            self.console.print(f"  [yellow]hint:[/] {escape(event.error.hint)}")
        self._detail(event.error)
        if event.partial_text:
            self.console.print(
                f"  [dim]partial text kept ({len(event.partial_text)} characters)[/]"
            )
        if self.show_output and event.output is not None:
            self.console.print("  [dim]unvalidated output:[/]")
            self.console.print_json(json.dumps(event.output, ensure_ascii=False, default=str))
        self.console.print(f"  [dim]{self._summary(event.totals)}[/]")

    def _on_run_cancelled(self, event: RunCancelledEvent) -> None:
        self._end_stream()
        self.console.print(f"\n[bold yellow]■ cancelled[/] [dim]{self._summary(event.totals)}[/]")
