"""A run as the AI SDK's UI message stream: the protocol ``useChat`` reads.

The whole run is one assistant message. Each server-sent event's data is one JSON chunk:

| Tide event | UI message chunks |
|---|---|
| ``run_started`` | ``start`` (``messageId`` the run id, ``messageMetadata`` ``{runId, procedure}``) |
| ``agent_turn`` started | ``start-step``, ``data-tide-turn`` |
| ``agent_stream_chunk`` | ``text-start`` (the turn's first), ``text-delta`` |
| ``agent_turn`` completed/failed | ``text-end``, ``data-tide-turn`` (same id: updated), ``finish-step`` |
| ``tool_call`` started | ``tool-input-start``, ``tool-input-available`` (``input`` the arguments) |
| ``tool_call`` completed/failed | ``tool-output-available`` / ``tool-output-error`` |
| ``cost`` | ``data-tide-cost`` |
| ``log`` | ``data-tide-log`` |
| ``run_completed`` | ``finish`` (``stop``; metadata ``{status, output, totals}``) |
| ``run_failed`` | ``error`` (the message, with file:line), ``finish`` (``error``) |
| ``run_cancelled`` | ``abort`` |

and ``data: [DONE]`` after the last. A text part's id is ``text-<agent>-<turn>``; a turn's data
part's id is ``turn-<agent>-<turn>``. The last chunk of each event carries ``id: <seq>``, so a
client that reconnects with ``Last-Event-ID`` continues exactly after the last event it got.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from runtime.chunks import Entry, merge, seq_of
from runtime.events import (
    AgentTurnEvent,
    CostEvent,
    LogEvent,
    RunCancelledEvent,
    RunCompletedEvent,
    RunFailedEvent,
    RunStartedEvent,
    ToolCallEvent,
)

# The header that tells the AI SDK's clients this is a UI message stream (with the usual
# event-stream ones, which the response sets).
UI_STREAM_HEADERS = {
    "x-vercel-ai-ui-message-stream": "v1",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
}
DONE = b"data: [DONE]\n\n"
UIChunk = dict[str, Any]
_EVENT_FIELDS = {"type", "run_id", "seq", "ts"}


def frame(chunks: list[UIChunk], seq: int) -> bytes:
    out = []
    for index, chunk in enumerate(chunks):
        data = json.dumps(chunk, ensure_ascii=False, separators=(",", ":"), default=str)
        if index == len(chunks) - 1:
            out.append(f"id: {seq}\ndata: {data}\n\n")
        else:
            out.append(f"data: {data}\n\n")
    return "".join(out).encode()


class UIMessageEncoder:
    """One stream's translation: it remembers which text parts are open and how much of
    each it has sent. ``encode`` takes a run's entries in order; those at or before ``after``
    only bring the state up to date (a resumed stream goes on from there)."""

    def __init__(self) -> None:
        self._sent: dict[str, int] = {}
        # The run has ended (``done``), and ``[DONE]`` has been written (``closed``).
        self.done = False
        self.closed = False

    def encode(self, entries: Iterable[Entry], after: int = 0) -> bytes:
        entries = list(entries)
        skipped = [e for e in entries if seq_of(e) <= after]
        for message in merge(skipped):
            self.chunks(message)
        out = []
        for message in merge([e for e in entries if seq_of(e) > after]):
            chunks = self.chunks(message)
            if chunks:
                out.append(frame(chunks, seq_of(message)))
        if self.done and not self.closed:
            self.closed = True
            out.append(DONE)
        return b"".join(out)

    # -- the translation ------------------------------------------------------------------------

    def chunks(self, message: Entry) -> list[UIChunk]:
        if isinstance(message, tuple):
            _, agent, turn, offset, text = message
            return self._text(agent, turn, offset, text)
        if isinstance(message, RunStartedEvent):
            metadata = {"runId": message.run_id, "procedure": message.procedure}
            return [{"type": "start", "messageId": message.run_id, "messageMetadata": metadata}]
        if isinstance(message, AgentTurnEvent):
            return self._turn(message)
        if isinstance(message, ToolCallEvent):
            return self._tool(message)
        if isinstance(message, CostEvent):
            data = message.model_dump(mode="json", exclude=_EVENT_FIELDS)
            return [{"type": "data-tide-cost", "id": f"cost-{message.seq}", "data": data}]
        if isinstance(message, LogEvent):
            data = message.model_dump(mode="json", exclude=_EVENT_FIELDS)
            return [{"type": "data-tide-log", "data": data}]
        if isinstance(message, RunCompletedEvent | RunFailedEvent | RunCancelledEvent):
            return self._end(message)
        return []

    def _text(self, agent: str, turn: int, offset: int, text: str) -> list[UIChunk]:
        part = f"text-{agent}-{turn}"
        out: list[UIChunk] = []
        sent = self._sent.get(part)
        if sent is None:
            out.append({"type": "text-start", "id": part})
            sent = 0
        # Offsets say where a chunk belongs; what was sent already is not sent twice.
        fresh = text[max(0, sent - offset) :] if offset < sent else text
        if fresh:
            out.append({"type": "text-delta", "id": part, "delta": fresh})
        self._sent[part] = max(sent, offset + len(text))
        return out

    def _turn(self, event: AgentTurnEvent) -> list[UIChunk]:
        data: dict[str, Any] = {"agent": event.agent, "turn": event.turn, "stage": event.stage}
        if event.model is not None:
            data["model"] = event.model
        turn_part = {"type": "data-tide-turn", "id": f"turn-{event.agent}-{event.turn}"}
        if event.stage == "started":
            return [{"type": "start-step"}, {**turn_part, "data": data}]
        out: list[UIChunk] = []
        part = f"text-{event.agent}-{event.turn}"
        text = event.text or ""
        if self._sent.get(part, 0) < len(text):
            # Text the turn has that no chunk brought (a client that missed none has it all).
            out += self._text(event.agent, event.turn, 0, text)
        if part in self._sent:
            out.append({"type": "text-end", "id": part})
            del self._sent[part]
        data["duration_ms"] = event.duration_ms
        if event.error is not None:
            data["error"] = event.error.model_dump(mode="json")
        out += [{**turn_part, "data": data}, {"type": "finish-step"}]
        return out

    def _tool(self, event: ToolCallEvent) -> list[UIChunk]:
        call = {"toolCallId": event.call_id}
        if event.stage == "started":
            named = {**call, "toolName": event.tool}
            return [
                {"type": "tool-input-start", **named},
                {"type": "tool-input-available", **named, "input": event.args},
            ]
        if event.stage == "completed":
            return [{"type": "tool-output-available", **call, "output": event.result}]
        return [{"type": "tool-output-error", **call, "errorText": event.error or "failed"}]

    def _end(self, event: RunCompletedEvent | RunFailedEvent | RunCancelledEvent) -> list[UIChunk]:
        # Text parts still open (a turn cut short) end with the run.
        out: list[UIChunk] = [{"type": "text-end", "id": part} for part in self._sent]
        self._sent.clear()
        self.done = True
        totals = event.totals.model_dump(mode="json")
        if isinstance(event, RunCompletedEvent):
            metadata = {"status": "completed", "output": event.output, "totals": totals}
            return [*out, {"type": "finish", "finishReason": "stop", "messageMetadata": metadata}]
        if isinstance(event, RunFailedEvent):
            error = event.error
            where = error.location()
            text = f"{where}: {error.message}" if where else error.message
            metadata = {
                "status": "failed",
                "error": error.model_dump(mode="json"),
                "totals": totals,
            }
            return [
                *out,
                {"type": "error", "errorText": text},
                {"type": "finish", "finishReason": "error", "messageMetadata": metadata},
            ]
        return [*out, {"type": "abort", "reason": event.reason}]
