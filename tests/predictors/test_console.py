"""The terminal shows each prediction: what went in, what came out, and how it was answered."""

from __future__ import annotations

import io

from runtime.console import ConsoleHandler
from runtime.events import ModelPredictionEvent


def test_predictions_are_printed() -> None:
    out = io.StringIO()
    handler = ConsoleHandler(out)
    common = {"run_id": "r", "model": "sentiment", "backend": "http", "input": {"text": "hi"}}
    handler.log(ModelPredictionEvent(seq=1, call=1, stage="started", **common))
    handler.log(
        ModelPredictionEvent(
            seq=2, call=1, stage="completed", output={"label": "up"}, duration_ms=4, **common
        )
    )
    handler.log(ModelPredictionEvent(seq=3, call=2, stage="failed", error="HTTP 500", **common))
    lines = out.getvalue().splitlines()
    assert lines == [
        '  ◆ sentiment({"text": "hi"}) → {"label": "up"} · http · 4 ms',
        "  ◆ sentiment failed: HTTP 500",
    ]
