"""Events: one model per kind, a discriminated union on ``type``, lossless JSON, a schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from runtime.events import (
    EVENT_TYPES,
    AgentStreamChunkEvent,
    AgentTurnEvent,
    CostEvent,
    ErrorInfo,
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
    TextBuffer,
    ToolCallEvent,
    ValidationIssue,
    event_json_schema,
    event_schema_text,
    parse_event,
)

TS = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
TOTALS = RunTotals(
    cost_usd=0.0125,
    prompt_tokens=100,
    completion_tokens=20,
    total_tokens=120,
    duration_ms=12.5,
    agent_turns=2,
    llm_calls=3,
    tool_calls=1,
)


def samples() -> list[Any]:
    """One fully populated event of every kind."""
    common: dict[str, Any] = {"run_id": "r1", "ts": TS}
    error = ErrorInfo(kind="runtime", message="boom", file="proc.tac", line=7, hint="fix it")
    return [
        RunStartedEvent(seq=1, procedure="proc.tac", inputs={"n": 3, "tags": ["a"]}, **common),
        AgentTurnEvent(seq=2, agent="writer", turn=1, stage="started", model="m/x", **common),
        AgentStreamChunkEvent(
            seq=3,
            agent="writer",
            turn=1,
            chunk_text="lo!",
            offset=2,
            accumulated_text="Hello!"[:5],
            **common,
        ),
        ModelPredictionEvent(
            seq=4,
            model="sentiment",
            call=1,
            stage="completed",
            backend="http",
            input={"text": "great"},
            output={"label": "positive"},
            duration_ms=3.0,
            **common,
        ),
        ToolCallEvent(
            seq=4,
            agent="writer",
            turn=1,
            tool="multiply",
            call_id="c1",
            stage="completed",
            args={"a": 6, "b": 7},
            result=42,
            duration_ms=1.5,
            **common,
        ),
        CostEvent(
            seq=5,
            agent="writer",
            turn=1,
            model="m/x",
            provider="mock",
            prompt_tokens=10,
            completion_tokens=5,
            total_tokens=15,
            cost_usd=0.001,
            duration_ms=20.0,
            time_to_first_token_ms=3.0,
            chunks=4,
            finish_reason="stop",
            streamed=True,
            llm_calls=2,
            **common,
        ),
        OutputValidationEvent(
            seq=6,
            target="agent:writer",
            ok=False,
            errors=[ValidationIssue(path="title", message="Field required")],
            raw='{"x": 1}',
            **common,
        ),
        LogEvent(
            seq=7, level="warn", message="careful", fields={"k": [1, 2]}, source="p:3", **common
        ),
        AgentTurnEvent(
            seq=8, agent="writer", turn=1, stage="failed", error=error, text="Hel", **common
        ),
        RunFailedEvent(
            seq=9, error=error, partial_text="Hel", output={"x": 1}, totals=TOTALS, **common
        ),
        RunCompletedEvent(seq=10, output={"story": "…"}, totals=TOTALS, **common),
        RunCancelledEvent(seq=11, reason="cancelled", partial_text="x", totals=TOTALS, **common),
        HumanRequestEvent(
            seq=12,
            request_id="r-h3",
            kind="select",
            message="Which one?",
            options=["a", "b"],
            default="a",
            timeout_s=60.0,
            **common,
        ),
        HumanResponseEvent(seq=13, request_id="r-h3", value="b", answered_by="person", **common),
        SystemAlertEvent(
            seq=14, level="warning", message="low", source="p:4", context={"n": 1}, **common
        ),
    ]


@pytest.mark.parametrize("event", samples(), ids=lambda e: e.type)
def test_round_trip_through_json_is_lossless(event: Any) -> None:
    text = event.model_dump_json()
    back = parse_event(text)
    assert type(back) is type(event)
    assert back.model_dump() == event.model_dump()
    assert back.model_dump_json() == text
    # A dict works as well as JSON text, and bytes as well as str.
    assert parse_event(json.loads(text)).model_dump() == event.model_dump()
    assert parse_event(text.encode()).model_dump() == event.model_dump()


def test_every_kind_is_covered_by_the_samples() -> None:
    assert {type(e) for e in samples()} == set(EVENT_TYPES)


def test_every_event_has_type_run_id_seq_and_utc_ts() -> None:
    event = LogEvent(run_id="r", seq=1, level="info", message="m")
    data = json.loads(event.model_dump_json())
    assert {"type", "run_id", "seq", "ts"} <= set(data)
    assert event.ts.tzinfo is not None
    assert event.ts.utcoffset() == UTC.utcoffset(None)


def test_unknown_type_and_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError):
        parse_event({"type": "nope", "run_id": "r", "seq": 1})
    with pytest.raises(ValidationError):
        parse_event(
            {"type": "log", "run_id": "r", "seq": 1, "level": "info", "message": "m", "x": 1}
        )
    with pytest.raises(ValidationError):
        parse_event({"type": "log", "run_id": "r", "seq": 1, "level": "loud", "message": "m"})


def test_chunk_event_serializes_its_accumulated_text() -> None:
    buffer = TextBuffer()
    events = []
    for seq, piece in enumerate(["Once ", "upon ", "a time"], start=1):
        offset = buffer.append(piece)
        events.append(
            AgentStreamChunkEvent.from_buffer(
                buffer, piece, offset, run_id="r", seq=seq, agent="a", turn=1
            )
        )
    # Each event sees the text up to its own chunk, even after later chunks arrived.
    assert [e.accumulated_text for e in events] == ["Once ", "Once upon ", "Once upon a time"]
    assert [e.offset for e in events] == [0, 5, 10]
    for event in events:
        data = json.loads(event.model_dump_json())
        assert data["accumulated_text"] == event.accumulated_text
        back = parse_event(data)
        assert isinstance(back, AgentStreamChunkEvent)
        assert back.accumulated_text == event.accumulated_text


def test_text_buffer_offsets_and_prefixes() -> None:
    buffer = TextBuffer()
    assert len(buffer) == 0
    assert buffer.text() == ""
    assert buffer.append("ab") == 0
    assert buffer.append("") == 2
    assert buffer.append("cde") == 2
    assert len(buffer) == 5
    assert buffer.text() == "abcde"
    assert buffer.text(3) == "abc"
    assert buffer.text(99) == "abcde"


def test_error_info_location() -> None:
    assert ErrorInfo(kind="k", message="m").location() is None
    assert ErrorInfo(kind="k", message="m", file="a.tac").location() == "a.tac"
    assert ErrorInfo(kind="k", message="m", file="a.tac", line=3).location() == "a.tac:3"


def test_schema_is_a_discriminated_union_of_every_kind() -> None:
    schema = event_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    mapping = schema["discriminator"]["mapping"]
    assert set(mapping) == {kind.model_fields["type"].default for kind in EVENT_TYPES}
    assert schema["discriminator"]["propertyName"] == "type"
    assert json.loads(event_schema_text()) == schema


def test_schema_describes_the_common_fields() -> None:
    """What the frontend types against: every event has its constant type, run_id, seq, ts."""
    schema = event_json_schema()
    for kind in EVENT_TYPES:
        definition = schema["$defs"][kind.__name__]
        properties = definition["properties"]
        assert properties["type"]["const"] == kind.model_fields["type"].default
        assert properties["ts"]["format"] == "date-time"
        assert {"run_id", "seq"} <= set(definition["required"])
        assert definition["additionalProperties"] is False
    chunk = schema["$defs"]["AgentStreamChunkEvent"]
    assert "accumulated_text" in chunk["properties"]


@pytest.mark.parametrize("event", samples(), ids=lambda e: e.type)
def test_serialized_events_match_the_schema(event: Any) -> None:
    jsonschema.validate(json.loads(event.model_dump_json()), event_json_schema())
