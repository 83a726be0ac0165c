"""Benchmark of OpenTelemetry's cost to a run: the same runs with and without ``OTelHandler``.

    .venv/bin/python bench/telemetry.py [--runs 30] [--out result.json]

Each run is a mocked agent turn streaming 2,000 words (one chunk event each) with three tool
calls; with telemetry, every span and metric goes through the SDK's batch span processor to an
in-memory exporter. The baseline has a handler that does nothing, so both pay the event bus's
cost of one handler. Prints JSON: the median run time of each, the slowdown in percent, and the
spans exported per run (a check that telemetry did its work).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runtime.api import Runtime
from runtime.config import RuntimeConfig
from runtime.events import Event
from runtime.source import ProcedureSource
from runtime.telemetry.otel import OTelHandler

PROCEDURE = """
add = Tool { description = "Add", input = { a = field.number{}, b = field.number{} },
  function(args) return args.a + args.b end }
writer = Agent { model = "openai/gpt-4o-mini", system_prompt = "Write.", tools = { add } }
Mocks { writer = { message = string.rep("word ", 2000), tool_calls = {
  { tool = "add", args = { a = 1, b = 2 } }, { tool = "add", args = { a = 3, b = 4 } },
  { tool = "add", args = { a = 5, b = 6 } } } } }
Procedure { function(input) return { text = writer("go").output } end }
"""


class Nothing:
    def log(self, event: Event) -> None:
        pass


async def timed(runtime: Runtime, handler: Any) -> float:
    source = ProcedureSource.from_text(PROCEDURE, name="bench.tac")
    started = time.perf_counter()
    result = await runtime.run(source, handlers=[handler], mock=True)
    assert result.ok, result.error
    return (time.perf_counter() - started) * 1000


async def main(runs: int) -> dict[str, Any]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    processor = BatchSpanProcessor(spans)
    tracer_provider.add_span_processor(processor)
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    telemetry = OTelHandler(tracer_provider, meter_provider)
    baseline: list[float] = []
    with_otel: list[float] = []
    async with Runtime(RuntimeConfig()) as runtime:
        await timed(runtime, Nothing())  # warm up both paths once
        await timed(runtime, telemetry)
        for _ in range(runs):
            # Interleaved, so that drift on a shared machine hits both alike.
            baseline.append(await timed(runtime, Nothing()))
            with_otel.append(await timed(runtime, telemetry))
    processor.force_flush()
    base, otel = statistics.median(baseline), statistics.median(with_otel)
    return {
        "runs": runs,
        "baseline_ms_median": round(base, 2),
        "otel_ms_median": round(otel, 2),
        "slowdown_percent": round((otel - base) / base * 100, 1),
        "spans_per_run": len(spans.get_finished_spans()) / (runs + 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--out")
    args = parser.parse_args()
    report = anyio.run(main, args.runs)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
