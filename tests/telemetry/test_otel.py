"""Spans and metrics from a run, read back with the SDK's in-memory exporters."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from runtime import RuntimeConfig
from runtime.alerts import Alerts
from runtime.models.base import ModelRequest, TextDelta, ToolCallRequest
from runtime.models.function import FunctionModel
from runtime.telemetry.otel import OTelHandler
from tests.helpers import run

pytestmark = pytest.mark.anyio

CALCULATOR = """
add = Tool { description = "Add", input = { a = field.number{}, b = field.number{} },
  function(args) return args.a + args.b end }
calculator = Agent { model = "openai/gpt-4o-mini", system_prompt = "Add.", tools = { add } }
Procedure { function(input)
  local r = calculator("What is 2 + 3?")
  return { answer = r.output }
end }
"""


def answer(request: ModelRequest) -> Any:
    if request.round == 1:
        return [TextDelta("Adding. "), ToolCallRequest("c1", "add", {"a": 2, "b": 3})]
    return "It is 5."


class Telemetry:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.metrics = InMemoryMetricReader()
        meter_provider = MeterProvider(metric_readers=[self.metrics])
        self.handler = OTelHandler(tracer_provider, meter_provider)

    def by_name(self) -> dict[str, ReadableSpan]:
        return {s.name: s for s in self.spans.get_finished_spans()}

    def metric_points(self) -> dict[str, list[Any]]:
        data = self.metrics.get_metrics_data()
        found: dict[str, list[Any]] = {}
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found


async def test_a_run_with_a_tool_call_becomes_a_tree_of_spans() -> None:
    telemetry = Telemetry()
    result, _ = await run(
        CALCULATOR,
        mock=False,
        handlers=[telemetry.handler],
        models={"openai/gpt-4o-mini": FunctionModel(answer)},
        tags={"team": "math"},
        config=RuntimeConfig(alerts=Alerts(duration_ms=0)),
    )
    assert result.ok
    spans = telemetry.spans.get_finished_spans()
    names = sorted(s.name for s in spans)
    assert names == [
        "chat openai/gpt-4o-mini",
        "chat openai/gpt-4o-mini",
        "execute_tool add",
        "invoke_agent calculator",
        "invoke_workflow proc.tac",
    ]
    named = telemetry.by_name()
    workflow = named["invoke_workflow proc.tac"]
    agent = named["invoke_agent calculator"]
    tool = named["execute_tool add"]
    calls = sorted(
        (s for s in spans if s.name.startswith("chat ")), key=lambda s: s.start_time or 0
    )
    assert workflow.parent is None
    assert agent.parent is not None and agent.parent.span_id == workflow.context.span_id
    assert all(c.parent and c.parent.span_id == agent.context.span_id for c in calls)
    assert tool.parent is not None and tool.parent.span_id == agent.context.span_id
    # The first call ends where its tool starts; the second starts when the tool ends.
    assert calls[0].end_time == tool.start_time
    assert calls[1].start_time == tool.end_time
    assert {s.context.trace_id for s in spans} == {workflow.context.trace_id}

    assert workflow.attributes is not None and agent.attributes is not None
    assert workflow.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert workflow.attributes["gen_ai.workflow.name"] == "proc.tac"
    assert workflow.attributes["tide.run.id"] == result.run_id
    assert workflow.attributes["tide.run.status"] == "completed"
    assert workflow.status.status_code == StatusCode.OK
    for span in spans:
        assert span.attributes is not None and span.attributes["tide.tag.team"] == "math"
    assert agent.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert agent.attributes["gen_ai.agent.name"] == "calculator"
    assert agent.attributes["gen_ai.request.model"] == "openai/gpt-4o-mini"
    assert agent.attributes["gen_ai.usage.input_tokens"] == result.totals.prompt_tokens > 0
    assert agent.attributes["gen_ai.usage.output_tokens"] == result.totals.completion_tokens
    assert agent.attributes["gen_ai.request.stream"] is True
    assert agent.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert agent.attributes["gen_ai.response.time_to_first_chunk"] >= 0
    assert "tide.retries" not in agent.attributes and agent.attributes["tide.llm_calls"] == 2
    assert "tide.cost_usd" in agent.attributes
    assert [e.name for e in agent.events] == ["tide.alert"]
    assert agent.events[0].attributes is not None
    assert agent.events[0].attributes["tide.alert.alert"] == "duration_ms"
    assert tool.attributes is not None
    assert tool.attributes["gen_ai.tool.name"] == "add"
    assert tool.attributes["gen_ai.tool.call.id"] == "c1"
    assert calls[0].attributes is not None
    assert calls[0].attributes["gen_ai.operation.name"] == "chat"
    assert calls[0].attributes["gen_ai.provider.name"]

    points = telemetry.metric_points()
    (duration,) = points["gen_ai.client.operation.duration"]
    assert duration.count == 1 and duration.attributes["gen_ai.request.model"] == (
        "openai/gpt-4o-mini"
    )
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in points["gen_ai.client.token.usage"]}
    assert tokens == {
        "input": result.totals.prompt_tokens,
        "output": result.totals.completion_tokens,
    }
    (first,) = points["gen_ai.client.operation.time_to_first_chunk"]
    assert first.count == 1


async def test_a_failed_run_marks_its_spans_as_errors() -> None:
    telemetry = Telemetry()
    result, _ = await run(
        'Procedure { function(input) error("broken on purpose") end }',
        handlers=[telemetry.handler],
    )
    assert result.status == "failed"
    (workflow,) = telemetry.spans.get_finished_spans()
    assert workflow.status.status_code == StatusCode.ERROR
    assert "broken on purpose" in (workflow.status.description or "")
    assert workflow.attributes is not None
    assert workflow.attributes["error.type"] == result.error.kind  # type: ignore[union-attr]
    assert workflow.attributes["tide.run.status"] == "failed"


async def test_a_failed_turn_marks_its_call() -> None:
    from runtime.models.base import ModelError

    def broken(request: ModelRequest) -> Any:
        raise ModelError("the provider is down", retryable=False)

    telemetry = Telemetry()
    result, _ = await run(
        CALCULATOR,
        mock=False,
        handlers=[telemetry.handler],
        models={"openai/gpt-4o-mini": FunctionModel(broken)},
    )
    assert result.status == "failed"
    named = telemetry.by_name()
    for name in ("chat openai/gpt-4o-mini", "invoke_agent calculator", "invoke_workflow proc.tac"):
        assert named[name].status.status_code == StatusCode.ERROR, name
        assert named[name].end_time is not None


async def test_retries_of_a_turn_without_tools() -> None:
    from runtime.models.base import ModelError

    attempts = 0

    def flaky(request: ModelRequest) -> Any:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ModelError("try again", retryable=True)
        return "Fine now."

    telemetry = Telemetry()
    result, _ = await run(
        'writer = Agent { model = "openai/gpt-4o-mini", system_prompt = "x" }\n'
        'Procedure { function(input) return { t = writer("go").output } end }',
        mock=False,
        handlers=[telemetry.handler],
        models={"openai/gpt-4o-mini": FunctionModel(flaky)},
        config=RuntimeConfig(retry_backoff_s=0),
    )
    assert result.ok
    named = telemetry.by_name()
    for name in ("invoke_agent writer", "chat openai/gpt-4o-mini"):
        attributes = named[name].attributes
        assert attributes is not None
        assert (attributes["tide.retries"], attributes["tide.llm_calls"]) == (1, 2), name
