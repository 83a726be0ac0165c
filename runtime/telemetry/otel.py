"""``OTelHandler``: a run's events as OpenTelemetry spans and metrics (GenAI conventions).

Spans, each timed by its events' timestamps:

- ``invoke_workflow {procedure}``: the run (``gen_ai.workflow.name``, its tags, totals);
- ``invoke_agent {agent}``: an agent turn, under the run (``gen_ai.agent.name``, the model,
  tokens, cost, finish reason, time to first chunk, retries of a turn without tools, the calls
  made, whether it streamed);
- ``chat {model}``: a model call, under its turn. A turn that calls tools makes one call per
  round: a call ends where the tools it asked for start, and the next starts when they end (a
  round that streams no text before asking for more tools is folded into the tools around it);
- ``execute_tool {tool}``: a tool call, under its turn (or the run, for a tool Lua called).

A turn's tokens and cost are Tide's per-turn accounting; they go on the turn's span, and on its
call's span when the turn made one call. Metrics per turn: ``gen_ai.client.operation.duration``,
``gen_ai.client.token.usage`` (input and output) and
``gen_ai.client.operation.time_to_first_chunk``. Alerts become span events named ``tide.alert``.
Every span carries the run's tags as ``tide.tag.<key>`` and its id as ``tide.run.id``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio.to_thread
from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from opentelemetry.semconv.attributes import error_attributes
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from runtime.alerts import ALERT_SOURCE
from runtime.events import (
    TERMINAL_TYPES,
    AgentStreamChunkEvent,
    AgentTurnEvent,
    CostEvent,
    Event,
    LogEvent,
    RunCancelledEvent,
    RunCompletedEvent,
    RunFailedEvent,
    RunStartedEvent,
    ToolCallEvent,
)
from runtime.telemetry.setup import Providers, providers_from_env

SCOPE = "tide"
TAG_PREFIX = "tide.tag."
# The conventions' advised histogram buckets.
_DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                     40.96, 81.92]  # fmt: skip
_TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                  16777216, 67108864]  # fmt: skip


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


@dataclass
class _Turn:
    span: Span
    model: str | None
    call: Span | None = None
    calls: list[Span] = field(default_factory=list)
    # Calls that are over, with when they ended: they are ended for real once the turn's cost
    # (which names the provider and counts the tokens) has been put on them.
    ended: list[tuple[Span, int]] = field(default_factory=list)
    used_tools: bool = False
    # Where the next model call starts: after the last tool of a round.
    next_call_at: int | None = None


@dataclass
class _Run:
    span: Span
    attributes: dict[str, Any]
    turns: dict[tuple[str, int], _Turn] = field(default_factory=dict)
    tools: dict[str, Span] = field(default_factory=dict)


class OTelHandler:
    """Turns events into spans and metrics. One handler may serve many runs at once.

    Give ``tracer_provider`` and ``meter_provider`` (e.g. with in-memory exporters), or leave
    them out to use the global ones. ``providers``, when given, are flushed after each run."""

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        *,
        providers: Providers | None = None,
    ) -> None:
        self._tracer = trace.get_tracer(SCOPE, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, meter_provider=meter_provider)
        self._duration = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self._tokens = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self._first_chunk = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time to receive the first chunk of a streamed answer.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self._providers = providers
        self._runs: dict[str, _Run] = {}

    def log(self, event: Event) -> Awaitable[None] | None:
        if event.type == "agent_stream_chunk":
            # Most events: a dictionary lookup, no coroutine.
            self._on_agent_stream_chunk(event)
            return None
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is not None:
            handler(event)
        if event.type in TERMINAL_TYPES and self._providers is not None:
            # Exported before the run's caller goes on (and before `tide run` exits).
            return anyio.to_thread.run_sync(self._providers.force_flush)
        return None

    # -- spans ----------------------------------------------------------------------------------

    def _start(
        self,
        name: str,
        moment: int,
        attributes: dict[str, Any],
        parent: Span | None,
        kind: SpanKind = SpanKind.INTERNAL,
    ) -> Span:
        context = trace.set_span_in_context(parent) if parent is not None else None
        return self._tracer.start_span(
            name,
            context=context if context is not None else otel_context.get_current(),
            kind=kind,
            attributes=attributes,
            start_time=moment,
        )

    def _on_run_started(self, event: RunStartedEvent) -> None:
        common = {"tide.run.id": event.run_id}
        common.update({TAG_PREFIX + k: v for k, v in event.tags.items()})
        span = self._start(
            f"invoke_workflow {event.procedure}",
            _ns(event.ts),
            {
                gen_ai.GEN_AI_OPERATION_NAME: "invoke_workflow",
                gen_ai.GEN_AI_WORKFLOW_NAME: event.procedure,
                **common,
            },
            None,
        )
        self._runs[event.run_id] = _Run(span, common)

    def _on_agent_turn(self, event: AgentTurnEvent) -> None:
        run = self._runs.get(event.run_id)
        if run is None:
            return
        key = (event.agent, event.turn)
        moment = _ns(event.ts)
        if event.stage == "started":
            attributes = {
                gen_ai.GEN_AI_OPERATION_NAME: "invoke_agent",
                gen_ai.GEN_AI_AGENT_NAME: event.agent,
                "tide.turn": event.turn,
                **run.attributes,
            }
            if event.model:
                attributes[gen_ai.GEN_AI_REQUEST_MODEL] = event.model
            span = self._start(f"invoke_agent {event.agent}", moment, attributes, run.span)
            started = run.turns[key] = _Turn(span, event.model)
            self._start_call(run, started, moment)
            return
        turn = run.turns.pop(key, None)
        if turn is None:
            return
        if event.stage == "failed" and event.error is not None:
            _fail(turn.span, event.error.kind, event.error.message)
            for call in turn.calls[-1:]:
                _fail(call, event.error.kind, event.error.message)
        self._close_calls(turn, moment)
        turn.span.end(end_time=moment)

    def _start_call(self, run: _Run, turn: _Turn, moment: int) -> None:
        model = turn.model or "unknown"
        turn.call = self._start(
            f"chat {model}",
            moment,
            {
                gen_ai.GEN_AI_OPERATION_NAME: "chat",
                gen_ai.GEN_AI_REQUEST_MODEL: model,
                **run.attributes,
            },
            turn.span,
            SpanKind.CLIENT,
        )
        turn.calls.append(turn.call)
        turn.next_call_at = None

    def _end_call(self, turn: _Turn, moment: int) -> None:
        if turn.call is not None:
            turn.ended.append((turn.call, moment))
            turn.call = None

    def _close_calls(self, turn: _Turn, moment: int) -> None:
        self._end_call(turn, moment)
        for span, end in turn.ended:
            span.end(end_time=end)
        turn.ended.clear()

    def _on_agent_stream_chunk(self, event: AgentStreamChunkEvent) -> None:
        run = self._runs.get(event.run_id)
        turn = run.turns.get((event.agent, event.turn)) if run else None
        if run is not None and turn is not None and turn.call is None:
            self._start_call(run, turn, turn.next_call_at or _ns(event.ts))

    def _on_tool_call(self, event: ToolCallEvent) -> None:
        run = self._runs.get(event.run_id)
        if run is None:
            return
        moment = _ns(event.ts)
        turn = None
        if event.agent is not None and event.turn is not None:
            turn = run.turns.get((event.agent, event.turn))
        if event.stage == "started":
            parent = run.span
            if turn is not None:
                self._end_call(turn, moment)
                turn.used_tools = True
                parent = turn.span
            run.tools[event.call_id] = self._start(
                f"execute_tool {event.tool}",
                moment,
                {
                    gen_ai.GEN_AI_OPERATION_NAME: "execute_tool",
                    gen_ai.GEN_AI_TOOL_NAME: event.tool,
                    gen_ai.GEN_AI_TOOL_CALL_ID: event.call_id,
                    gen_ai.GEN_AI_TOOL_TYPE: "function",
                    **run.attributes,
                },
                parent,
            )
            return
        span = run.tools.pop(event.call_id, None)
        if span is None:
            return
        if event.stage == "failed":
            _fail(span, "tool", event.error or "the tool failed")
        span.end(end_time=moment)
        if turn is not None:
            turn.next_call_at = moment

    def _on_cost(self, event: CostEvent) -> None:
        run = self._runs.get(event.run_id)
        turn = run.turns.get((event.agent, event.turn)) if run else None
        if run is None or turn is None:
            return
        moment = _ns(event.ts)
        if turn.call is None and turn.next_call_at is not None:
            # The round after the last tools, which answered without streaming any text.
            self._start_call(run, turn, turn.next_call_at)
        usage: dict[str, Any] = {
            gen_ai.GEN_AI_PROVIDER_NAME: event.provider,
            gen_ai.GEN_AI_RESPONSE_MODEL: event.model,
            gen_ai.GEN_AI_USAGE_INPUT_TOKENS: event.prompt_tokens,
            gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: event.completion_tokens,
            gen_ai.GEN_AI_REQUEST_STREAM: event.streamed,
            "tide.cost_usd": event.cost_usd,
            "tide.llm_calls": event.llm_calls,
            "tide.cached": event.cached,
        }
        if not turn.used_tools:
            # One round, so every call past the first was a retry. (With tools, the rounds that
            # streamed no text cannot be told apart from retries: only ``tide.llm_calls`` is said.)
            usage["tide.retries"] = max(0, event.llm_calls - 1)
        if event.finish_reason:
            usage[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] = [event.finish_reason]
        if event.time_to_first_token_ms is not None:
            usage[gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = event.time_to_first_token_ms / 1000
        turn.span.set_attributes(usage)
        for call in turn.calls:
            call.set_attribute(gen_ai.GEN_AI_PROVIDER_NAME, event.provider)
            call.set_attribute(gen_ai.GEN_AI_REQUEST_STREAM, event.streamed)
        if len(turn.calls) == 1:
            turn.calls[0].set_attributes(usage)
        self._end_call(turn, moment)
        self._record_metrics(event)

    def _record_metrics(self, event: CostEvent) -> None:
        attributes = {
            gen_ai.GEN_AI_OPERATION_NAME: "chat",
            gen_ai.GEN_AI_PROVIDER_NAME: event.provider,
            gen_ai.GEN_AI_REQUEST_MODEL: event.model,
            gen_ai.GEN_AI_RESPONSE_MODEL: event.model,
        }
        self._duration.record(event.duration_ms / 1000, attributes)
        for kind, count in (("input", event.prompt_tokens), ("output", event.completion_tokens)):
            self._tokens.record(count, {**attributes, gen_ai.GEN_AI_TOKEN_TYPE: kind})
        if event.time_to_first_token_ms is not None and event.streamed:
            self._first_chunk.record(event.time_to_first_token_ms / 1000, attributes)

    def _on_log(self, event: LogEvent) -> None:
        run = self._runs.get(event.run_id)
        if run is None or event.source != ALERT_SOURCE:
            return
        fields = event.fields
        turn = run.turns.get((str(fields.get("agent")), int(fields.get("turn") or 0)))
        target = turn.span if turn is not None else run.span
        attributes = {
            f"tide.alert.{k}": v
            for k, v in fields.items()
            if isinstance(v, str | int | float | bool)
        }
        target.add_event("tide.alert", attributes, timestamp=_ns(event.ts))

    def _end_run(
        self, event: RunCompletedEvent | RunFailedEvent | RunCancelledEvent, status: str
    ) -> Span | None:
        run = self._runs.pop(event.run_id, None)
        if run is None:
            return None
        moment = _ns(event.ts)
        for span in run.tools.values():
            span.end(end_time=moment)
        for turn in run.turns.values():
            self._close_calls(turn, moment)
            turn.span.end(end_time=moment)
        totals = event.totals
        run.span.set_attributes(
            {
                "tide.run.status": status,
                gen_ai.GEN_AI_USAGE_INPUT_TOKENS: totals.prompt_tokens,
                gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: totals.completion_tokens,
                "tide.cost_usd": totals.cost_usd,
                "tide.agent_turns": totals.agent_turns,
                "tide.llm_calls": totals.llm_calls,
                "tide.tool_calls": totals.tool_calls,
            }
        )
        return run.span

    def _on_run_completed(self, event: RunCompletedEvent) -> None:
        span = self._end_run(event, "completed")
        if span is not None:
            span.set_status(Status(StatusCode.OK))
            span.end(end_time=_ns(event.ts))

    def _on_run_failed(self, event: RunFailedEvent) -> None:
        span = self._end_run(event, "failed")
        if span is not None:
            _fail(span, event.error.kind, event.error.message)
            span.end(end_time=_ns(event.ts))

    def _on_run_cancelled(self, event: RunCancelledEvent) -> None:
        span = self._end_run(event, "cancelled")
        if span is not None:
            _fail(span, "cancelled", f"the run was {event.reason}")
            span.end(end_time=_ns(event.ts))


def _fail(span: Span, kind: str, message: str) -> None:
    span.set_attribute(error_attributes.ERROR_TYPE, kind)
    span.set_status(Status(StatusCode.ERROR, message))


@functools.cache
def shared_handler() -> OTelHandler:
    """One handler per process, on the providers ``OTEL_*`` describes (built once)."""
    providers = providers_from_env()
    return OTelHandler(providers.tracer_provider, providers.meter_provider, providers=providers)
