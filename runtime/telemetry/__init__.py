"""OpenTelemetry for runs, following the GenAI semantic conventions (``pip install tide[otel]``).

Off unless the standard variables ask for it: ``OTEL_TRACES_EXPORTER`` or
``OTEL_METRICS_EXPORTER`` naming an exporter (``otlp``, ``console``, …), and
``OTEL_SDK_DISABLED`` not ``true``. When off, nothing of OpenTelemetry is imported. When on, a
``Runtime`` adds one ``OTelHandler`` (``runtime.telemetry.otel``) to every run: a log handler
that turns the run's events into spans and metrics, so the engine itself knows nothing of it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.handlers import LogHandler

log = logging.getLogger("tide.telemetry")

EXPORTER_VARIABLES = ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER")
_warned = False


def otel_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(
        environ.get(name, "").strip().lower() not in ("", "none") for name in EXPORTER_VARIABLES
    )


def telemetry_handler() -> LogHandler | None:
    """The process's OpenTelemetry handler when the environment turns telemetry on, else None.
    Without the ``otel`` extra installed, a warning says so once and runs go on without it."""
    if not otel_enabled():
        return None
    try:
        from runtime.telemetry.otel import shared_handler
    except ImportError as exc:
        global _warned
        if _warned:
            return None
        _warned = True
        log.warning(
            "OTEL_* asks for telemetry but OpenTelemetry is not installed (%s): "
            "pip install 'tide[otel]'",
            exc,
        )
        return None
    return shared_handler()
