"""Telemetry configured only by OTEL_* variables: off means not imported at all; on exports
spans and metrics over OTLP/HTTP to a receiver that decodes what it gets."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from runtime.telemetry import otel_enabled
from tests.helpers import ROOT, fresh_process_report


@dataclass
class Received:
    spans: list[Any] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


def _attributes(items: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items:
        value = item.value
        kind = value.WhichOneof("value")
        values[item.key] = getattr(value, kind) if kind else None
    return values


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            received.paths.append(self.path)
            if self.path == "/v1/traces":
                request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
                for resource_spans in request.resource_spans:
                    received.resources.append(_attributes(resource_spans.resource.attributes))
                    for scope in resource_spans.scope_spans:
                        received.spans.extend(scope.spans)
                reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
            elif self.path == "/v1/metrics":
                metrics = metrics_service_pb2.ExportMetricsServiceRequest.FromString(body)
                for resource_metrics in metrics.resource_metrics:
                    for scope in resource_metrics.scope_metrics:
                        received.metrics.extend(m.name for m in scope.metrics)
                reply = metrics_service_pb2.ExportMetricsServiceResponse().SerializeToString()
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_tide_run_exports_spans_and_metrics_over_otlp_http(
    receiver: tuple[str, Received], tmp_path: Path
) -> None:
    url, received = receiver
    shutil.copy(ROOT / "procedures" / "tools.tac", tmp_path / "tools.tac")
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "TIDE_WORKER": "off",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": url,
        "OTEL_SERVICE_NAME": "tide-under-test",
    }
    done = subprocess.run(
        [sys.executable, "-m", "runtime", "run", "tools.tac", "--mock", "--tag", "team=otel",
         "--no-store", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    names = sorted(span.name for span in received.spans)
    assert "invoke_workflow tools.tac" in names
    assert "invoke_agent calculator" in names
    assert {"execute_tool multiply", "execute_tool add", "execute_tool done"} <= set(names)
    assert any(name.startswith("chat ") for name in names)
    assert all(r.get("service.name") == "tide-under-test" for r in received.resources)
    workflow = next(s for s in received.spans if s.name == "invoke_workflow tools.tac")
    attributes = _attributes(workflow.attributes)
    assert attributes["tide.run.id"] == run_id
    assert attributes["tide.tag.team"] == "otel"
    assert attributes["gen_ai.workflow.name"] == "tools.tac"
    assert len({s.trace_id for s in received.spans}) == 1
    assert {
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.time_to_first_chunk",
    } <= set(received.metrics)


def test_off_means_nothing_of_opentelemetry_is_imported() -> None:
    code = (
        "import json, sys, anyio\n"
        "from runtime import run_procedure\n"
        "result = anyio.run(lambda: run_procedure('procedures/hello.tac', mock=True))\n"
        "print(json.dumps({'status': result.status,\n"
        "  'otel': sorted(m for m in sys.modules if m.startswith('opentelemetry'))}))\n"
    )
    report = fresh_process_report(
        code, unset=("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_SDK_DISABLED")
    )
    assert report == {"status": "completed", "otel": []}


def test_which_variables_turn_it_on() -> None:
    assert not otel_enabled({})
    assert not otel_enabled({"OTEL_TRACES_EXPORTER": "none"})
    assert not otel_enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert otel_enabled({"OTEL_TRACES_EXPORTER": "otlp"})
    assert otel_enabled({"OTEL_METRICS_EXPORTER": "console"})
    assert not otel_enabled({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"})


def test_exporters_are_chosen_as_the_sdk_chooses_them() -> None:
    from runtime.errors import ConfigurationError
    from runtime.telemetry.setup import exporter_names, load_exporter

    assert exporter_names("traces", {}) == []
    assert exporter_names("traces", {"OTEL_TRACES_EXPORTER": "none"}) == []
    assert exporter_names("traces", {"OTEL_TRACES_EXPORTER": "otlp,console"}) == [
        "otlp_proto_http",
        "console",
    ]
    grpc = {"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    assert exporter_names("metrics", grpc) == ["otlp_proto_grpc"]
    per_signal = {**grpc, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf"}
    assert exporter_names("metrics", per_signal) == ["otlp_proto_http"]
    with pytest.raises(ConfigurationError, match="unknown OTLP protocol 'http/json'"):
        exporter_names(
            "traces", {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}
        )
    with pytest.raises(ConfigurationError, match="no OpenTelemetry traces exporter named 'zipkin'"):
        load_exporter("traces", "zipkin")
    assert type(load_exporter("traces", "console")).__name__ == "ConsoleSpanExporter"
