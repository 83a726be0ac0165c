"""The DSPy engine Tide's ``dspy.LM``s run on: DSPy's LiteLLM engine, streamed without the
end-of-stream re-assembly.

When a call streams, DSPy's own LiteLLM path keeps every chunk and, once the stream ends,
rebuilds the whole response from them with ``litellm.stream_chunk_builder``, which costs
about 50 µs per chunk: a tenth of the time of a fast stream, spent after its last token.
This engine hands each LiteLLM chunk to DSPy's ``send_stream`` as it arrives, as DSPy does,
and assembles the response while reading, from the fields that the response carries: text,
tool calls, finish reason and usage. Calls that do not stream are DSPy's own.
"""

from __future__ import annotations

import datetime
import time
import uuid
import warnings
from typing import Any

import anyio
import dspy
from dspy.clients.call_context import completed_legacy, stream_emitted
from dspy.clients.call_result import CallResult
from dspy.clients.engines.lifecycle import aclosing_stream
from dspy.clients.engines.litellm_engine import AsyncLiteLLMEngine, LiteLLMEngine
from dspy.clients.engines.litellm_errors import litellm_errors

from runtime.models._dspy import ChunkReader, import_litellm
from runtime.models.base import RequestSent

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
                await send.send(request_sent(response))
                async for chunk in response:
                    if isinstance(kept, list) and len(kept) > KEPT_CHUNKS:
                        del kept[:-2]
                    reader.feed(chunk)
                    stream_emitted()
                    try:
                        # Most chunks find room; ``send`` would first yield to the event loop,
                        # which for a fast stream costs more than the rest of passing a chunk on.
                        send.send_nowait(chunk)
                    except anyio.WouldBlock:
                        await send.send(chunk)
        raw = assembled(reader, body["model"])
        completed_legacy(raw)
        return CallResult.legacy(lm, raw, kwargs=request)


def request_sent(response: Any) -> RequestSent:
    """When LiteLLM handed the request to the provider's client, after its own preparation
    (which takes milliseconds and is not the model's time). LiteLLM notes that instant on the
    wall clock; it is carried over to the monotonic clock, the interval being milliseconds."""
    now = time.monotonic()
    details = getattr(getattr(response, "logging_obj", None), "model_call_details", None) or {}
    started = details.get("api_call_start_time")
    if not isinstance(started, datetime.datetime):
        return RequestSent(now)
    elapsed = (datetime.datetime.now() - started).total_seconds()
    return RequestSent(now - min(max(elapsed, 0.0), 60.0))


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
