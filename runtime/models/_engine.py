"""The DSPy engine Tide's ``dspy.LM``s run on: DSPy's LiteLLM engine, streamed without the
end-of-stream re-assembly.

When a call streams, DSPy's own LiteLLM path keeps every chunk and, once the stream ends,
rebuilds the whole response from them with ``litellm.stream_chunk_builder``, which costs
about 50 µs per chunk: a tenth of the time of a fast stream, spent after its last token.
This engine reads each LiteLLM chunk as it arrives, once: what it reads goes to DSPy's
``send_stream`` at once (see ``Opened``), and the response is assembled from the same reading:
text, tool calls, finish reason and usage. Calls that do not stream are DSPy's own.
"""

from __future__ import annotations

import datetime
import time
import uuid
import warnings
from dataclasses import dataclass
from typing import Any

import anyio
import dspy
from dspy.clients.call_context import completed_legacy, stream_emitted
from dspy.clients.call_result import CallResult
from dspy.clients.engines.lifecycle import aclosing_stream
from dspy.clients.engines.litellm_engine import AsyncLiteLLMEngine, LiteLLMEngine
from dspy.clients.engines.litellm_errors import litellm_errors

from runtime.models._dspy import ChunkReader, import_litellm
from runtime.models.base import ModelError, ModelItem

# complete_legacy is the engine interface of the DSPy release Tide pins (3.4); DSPy warns on
# every call that 3.5 replaces it, which is news for whoever moves the pin, not for users.
warnings.filterwarnings(
    "ignore", message="The custom-engine complete_legacy", category=DeprecationWarning
)

# What DSPy's LiteLLM path sends with every call: LiteLLM's own cache off in both directions.
NO_LITELLM_CACHE = {"no-cache": True, "no-store": True}
# How many chunks LiteLLM's stream may hold before the older ones are let go.
KEPT_CHUNKS = 64
# Keys of DSPy's request that are DSPy's, not the provider's.
DSPY_ONLY = frozenset({"rollout_id"})


class StreamingEngine(AsyncLiteLLMEngine):
    """DSPy's async LiteLLM engine; streamed calls assemble their response as they read."""

    async def complete_legacy(self, lm: Any, request: dict[str, Any], **context: Any) -> Any:
        # DSPy's engine adds its connection settings only when it renames the model.
        request = {**request, **self.client_options}
        send = dspy.settings.send_stream
        if send is None:
            return await super().complete_legacy(lm, request, **context)
        litellm = import_litellm()
        body = {key: value for key, value in request.items() if key not in DSPY_ONLY}
        reader = ChunkReader()
        with litellm_errors(model=lm.model):
            response = await litellm.acompletion(
                stream=True, num_retries=0, cache=NO_LITELLM_CACHE, **body
            )
            # LiteLLM keeps every chunk it yields, for its own logging; its only other use of
            # them, the check for a model repeating itself, reads the last two. Left alone, a
            # long answer holds about nine objects per token until the stream is dropped.
            kept = getattr(response, "chunks", None)
            async with aclosing_stream(response):
                await send.send(Opened(reader, sent_at(response)))
                async for chunk in response:
                    if isinstance(kept, list) and len(kept) > KEPT_CHUNKS:
                        del kept[:-2]
                    for item in read(reader, chunk):
                        stream_emitted()
                        try:
                            # Most items find room; ``send`` would first yield to the event
                            # loop, which for a fast stream costs more than the rest of passing
                            # a chunk on.
                            send.send_nowait(item)
                        except anyio.WouldBlock:
                            await send.send(item)
        raw = assembled(reader, body["model"])
        completed_legacy(raw)
        return CallResult.legacy(lm, raw, kwargs=request)


@dataclass(frozen=True, slots=True)
class Opened:
    """What a streamed call sends first: the reader that reads its chunks (for the rest of
    the answer once the text is done, or for what was spent if it fails) and when the request
    left for the provider. ``ModelItem``s read from the chunks follow."""

    reader: ChunkReader
    sent_at: float


def read(reader: ChunkReader, chunk: Any) -> list[ModelItem]:
    try:
        return reader.feed(chunk)
    except (AttributeError, IndexError, TypeError, ValueError) as exc:
        raise ModelError(f"malformed chunk: {exc!r}", kind="malformed") from exc


def sent_at(response: Any) -> float:
    """When LiteLLM handed the request to the provider's client (``time.monotonic()``), after
    its own preparation, which takes milliseconds and is not the model's time. LiteLLM notes
    that instant on the wall clock; it is carried over, the interval being milliseconds."""
    now = time.monotonic()
    details = getattr(getattr(response, "logging_obj", None), "model_call_details", None) or {}
    started = details.get("api_call_start_time")
    if not isinstance(started, datetime.datetime):
        return now
    elapsed = (datetime.datetime.now() - started).total_seconds()
    return now - min(max(elapsed, 0.0), 60.0)


def engines(**client_options: Any) -> dict[str, Any]:
    """The ``engine`` and ``async_engine`` arguments of a ``dspy.LM`` that runs on
    ``StreamingEngine``, connecting with ``client_options`` (``api_base``, ``api_key``)."""
    return {
        "engine": LiteLLMEngine(model_type="chat", **client_options),
        "async_engine": StreamingEngine(model_type="chat", **client_options),
    }


def assembled(reader: ChunkReader, model: str) -> Any:
    """The chat completion that the chunks ``reader`` read make up, as LiteLLM builds it."""
    litellm = import_litellm()
    calls = [
        {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}
        for id_, name, arguments in reader.raw_tool_calls()
    ]
    message = litellm.Message(
        role="assistant", content=reader.text() or None, tool_calls=calls or None
    )
    prompt, completion = reader.usage or (0, 0)
    return litellm.ModelResponse(
        id=reader.id or f"chatcmpl-{uuid.uuid4().hex}",
        model=model,
        choices=[litellm.Choices(index=0, message=message, finish_reason=reader.finish_reason)],
        usage=litellm.Usage(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        ),
    )
