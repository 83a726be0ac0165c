"""Tracer and meter providers built from the standard ``OTEL_*`` variables.

Exporters are chosen the way the OpenTelemetry SDK's own configuration chooses them:
``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` hold comma-separated names looked up in the
``opentelemetry_traces_exporter`` / ``opentelemetry_metrics_exporter`` entry points (``console``
from the SDK, ``otlp_proto_http`` from the OTLP exporter, any other installed one), ``none``
meaning none. ``otlp`` picks the OTLP exporter for ``OTEL_EXPORTER_OTLP_{TRACES,METRICS}_PROTOCOL``
or ``OTEL_EXPORTER_OTLP_PROTOCOL``: ``grpc`` or ``http/protobuf``, which is what the ``otel``
extra installs and the default here. The exporters read their endpoint, headers and timeout
(``OTEL_EXPORTER_OTLP_ENDPOINT``, …) themselves; the resource comes from ``OTEL_SERVICE_NAME``
and ``OTEL_RESOURCE_ATTRIBUTES`` (service name ``tide`` unless given).

An application that has set its own global providers keeps them: Tide's spans and metrics go
there, and nothing is built here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Literal

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from runtime.errors import ConfigurationError

Signal = Literal["traces", "metrics"]
_PROTOCOLS = {"grpc": "otlp_proto_grpc", "http/protobuf": "otlp_proto_http"}
DEFAULT_SERVICE_NAME = "tide"


def exporter_names(signal: Signal, environ: Mapping[str, str] = os.environ) -> list[str]:
    """The entry point names ``OTEL_<SIGNAL>_EXPORTER`` asks for."""
    names = environ.get(f"OTEL_{signal.upper()}_EXPORTER", "").strip()
    if not names or names.lower() == "none":
        return []
    chosen = []
    for name in (n.strip() for n in names.split(",")):
        if name == "otlp":
            protocol = (
                environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL")
                or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                or "http/protobuf"
            ).strip()
            if protocol not in _PROTOCOLS:
                raise ConfigurationError(
                    f"unknown OTLP protocol '{protocol}'", hint="use http/protobuf or grpc"
                )
            name = _PROTOCOLS[protocol]
        if name and name != "none":
            chosen.append(name)
    return chosen


def load_exporter(signal: Signal, name: str) -> Any:
    """A new exporter of the class the entry point ``name`` names."""
    group = f"opentelemetry_{signal}_exporter"
    found = entry_points(group=group, name=name)
    if not found:
        known = sorted(e.name for e in entry_points(group=group))
        raise ConfigurationError(
            f"no OpenTelemetry {signal} exporter named '{name}'",
            hint=f"installed: {', '.join(known) or 'none'} (OTEL_{signal.upper()}_EXPORTER)",
        )
    return next(iter(found)).load()()


def resource_from_env() -> Resource:
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    return resource


@dataclass
class Providers:
    tracer_provider: trace.TracerProvider
    meter_provider: metrics.MeterProvider
    # The providers built here, which Tide flushes at the end of each run (an app's own are
    # left to the app).
    owned: tuple[Any, ...] = ()

    def force_flush(self) -> None:
        for provider in self.owned:
            provider.force_flush()


def _app_has(provider: object, proxy_name: str) -> bool:
    return type(provider).__name__ != proxy_name


def providers_from_env() -> Providers:
    """The global providers an application set, else new ones from ``OTEL_*``, made global."""
    owned: list[Any] = []
    tracer_provider = trace.get_tracer_provider()
    if not _app_has(tracer_provider, "ProxyTracerProvider"):
        built = TracerProvider(resource=resource_from_env())
        for name in exporter_names("traces"):
            built.add_span_processor(BatchSpanProcessor(load_exporter("traces", name)))
        trace.set_tracer_provider(built)
        tracer_provider = trace.get_tracer_provider()
        owned.append(built)
    meter_provider = metrics.get_meter_provider()
    if not _app_has(meter_provider, "_ProxyMeterProvider"):
        readers: list[MetricReader] = [
            PeriodicExportingMetricReader(load_exporter("metrics", name))
            for name in exporter_names("metrics")
        ]
        built_meters = MeterProvider(resource=resource_from_env(), metric_readers=readers)
        metrics.set_meter_provider(built_meters)
        meter_provider = metrics.get_meter_provider()
        owned.append(built_meters)
    return Providers(tracer_provider, meter_provider, tuple(owned))
