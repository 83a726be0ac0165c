"""The model client for real models: DSPy's ``LM`` over LiteLLM, streamed chunk by chunk.

Tide sends its own OpenAI-style messages, so no DSPy adapter or signature is involved and the
text a user sees is exactly the text the model produced. DSPy is the transport: a ``dspy.LM``
on a LiteLLM engine (``_engine``), its in-memory response cache, and its ``send_stream`` hook,
through which what the engine reads from LiteLLM's chunks arrives while the call runs.

Import this module only when a real model is used: it imports DSPy and LiteLLM.
"""

from __future__ import annotations

import os

# LiteLLM reads this at import: the bundled price map, never a network fetch.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import asyncio
import json
import re
from collections.abc import AsyncGenerator
from typing import Any

import anyio
import dspy
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from runtime.models._dspy import (
    CALL_SETTINGS,
    ChunkReader,
    configure_off_loop,
    import_litellm,
    to_model_error,
    tokens,
    tool_call,
)
from runtime.models._engine import Opened, engines
from runtime.models.base import (
    Finish,
    ModelError,
    ModelItem,
    ModelRequest,
    RequestSent,
    TextDelta,
    Usage,
)
from runtime.models.credentials import is_local_api_base
from runtime.models.local_server import LOCAL_API_KEY
from runtime.models.pricing import Price, cost_usd
from runtime.models.providers import served_here

__all__ = ["LLMClient", "Price"]

# Settings given to ``dspy.LM`` itself (they also select the cached LM), then settings passed
# per call: those an agent declares (``AgentConfig.settings``). Anything else in
# ``request.settings`` is the agent loop's (retries, timeouts).
LM_SETTINGS = ("temperature", "max_tokens")
CALL_OPTIONS = ("top_p", "stop", "seed")
# Chunks DSPy may hand over before the consumer takes them: enough that the transport rarely
# waits on the consumer, few enough to bound memory if the consumer stalls.
STREAM_BUFFER = 256


class LLMClient:
    """Makes calls to one model through LiteLLM, with a ``dspy.LM`` per distinct setting."""

    def __init__(
        self,
        model: str,
        *,
        litellm_model: str,
        provider: str,
        api_base: str | None = None,
        api_key: str | None = None,
        price: Price | None = None,
    ) -> None:
        # Making a client configures nothing: DSPy and LiteLLM are set up once per process,
        # by the router before it hands out a client, or else by the first call.
        self._model = model
        self._provider = provider
        self.litellm_model = litellm_model
        self.api_base = api_base
        self.api_key = api_key
        self.price = price
        self._lms: dict[tuple[Any, ...], dspy.LM] = {}
        self._schema_support: bool | None = None

    @property
    def model(self) -> str:
        return self._model

    @property
    def provider(self) -> str:
        return self._provider

    def _served_here(self) -> bool:
        """Whether a provider of this machine's own serves the model (by name, not address:
        a LiteLLM proxy on localhost still bills)."""
        return served_here(self._provider) is not None

    def _is_local(self) -> bool:
        return self._served_here() or is_local_api_base(self.api_base)

    def supports_json_schema(self) -> bool:
        """Whether the model takes ``response_format`` with a JSON schema.

        LiteLLM knows this for hosted models only. OpenAI-compatible servers on this machine
        (the scripted server, vLLM, Ollama) take it too, so they count as supporting it.
        """
        if self._schema_support is None:
            supported = self._is_local()
            if not supported:
                try:
                    litellm = import_litellm()
                    supported = bool(litellm.supports_response_schema(model=self.litellm_model))
                except Exception:
                    supported = False
            self._schema_support = supported
        return self._schema_support

    def _lm(self, request: ModelRequest) -> dspy.LM:
        api_base = request.api_base or self.api_base
        api_key = request.api_key or self.api_key or (LOCAL_API_KEY if self._is_local() else None)
        settings = tuple(request.settings.get(name) for name in LM_SETTINGS)
        key = (api_base, api_key, settings)
        lm = self._lms.get(key)
        if lm is None:
            lm = dspy.LM(
                self.litellm_model,
                model_type="chat",
                # LiteLLM's engine is the one that hands LiteLLM's raw chunks to send_stream;
                # DSPy's native engine would translate them into its own events.
                **engines(api_base=api_base, api_key=api_key),
                cache=False,
                # The agent loop retries, and only it knows whether output was already shown.
                num_retries=0,
                **dict(zip(LM_SETTINGS, settings, strict=True)),
            )
            self._lms[key] = lm
        return lm

    def _call_kwargs(self, request: ModelRequest) -> dict[str, Any]:
        messages = list(request.messages)
        kwargs: dict[str, Any] = {"cache": request.cache}
        if request.tools:
            kwargs["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    },
                }
                for tool in request.tools
            ]
            # With tools, LiteLLM 1.106 looks for MCP gateway tools by importing its proxy's
            # MCP code, which needs the optional ``mcp`` package. Tide sends plain function
            # tools only, so the look is skipped; LiteLLM strips this key from the request.
            kwargs["_skip_mcp_handler"] = True
        if request.output_schema is not None:
            local = served_here(self._provider)
            if local is not None and local.json_object_schema:
                # The server takes no "json_schema" type; its "json_object" with a schema
                # constrains the output by a grammar instead.
                kwargs["response_format"] = {"type": "json_object", "schema": request.output_schema}
            elif self.supports_json_schema():
                kwargs["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {
                        "name": _schema_name(request),
                        "schema": request.output_schema,
                        "strict": False,
                    },
                }
            else:
                messages = _with_schema_instruction(messages, request.output_schema)
        if request.stream:
            # Without it most servers send no usage at all when streaming.
            kwargs["stream_options"] = {"include_usage": True}
        for name in CALL_OPTIONS:
            if request.settings.get(name) is not None:
                kwargs[name] = request.settings[name]
        kwargs["messages"] = messages
        return kwargs

    def _usage(self, prompt_tokens: int, completion_tokens: int) -> Usage:
        cost = cost_usd(
            self.litellm_model,
            prompt_tokens,
            completion_tokens,
            price=self.price,
            use_litellm=not self._served_here(),
        )
        return Usage(prompt_tokens, completion_tokens, cost)

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelItem, None]:
        """Yield the answer as it arrives (see ``ModelClient.stream``).

        Close the iterator when stopping early (``contextlib.aclosing``) so that the upstream
        response is closed at once rather than whenever the iterator is garbage-collected.
        """
        await configure_off_loop()
        try:
            lm = self._lm(request)
            kwargs = self._call_kwargs(request)
        except Exception as exc:
            raise ModelError(f"{self._model}: {exc}", kind="config") from exc
        if not request.stream:
            try:
                with dspy.context(lm=lm, send_stream=None, **CALL_SETTINGS):
                    response = await lm.aforward(**kwargs)
            except Exception as exc:
                raise to_model_error(exc, mid_stream=False, usage=None) from exc
            for item in self._whole_response(response):
                yield item
            return

        # Replaced by the engine's own reader once the stream opens.
        chunks = ChunkReader()
        outcome = _StreamOutcome()
        send, receive = anyio.create_memory_object_stream[Any](max_buffer_size=STREAM_BUFFER)
        # A plain task rather than a task group: a cancel scope must not stay open across the
        # yields below, or a consumer that puts a timeout around each step, or that closes
        # this iterator from another task, breaks anyio's nesting of scopes. DSPy's async LM
        # runs on asyncio only, so nothing is lost by using asyncio directly.
        producer = asyncio.get_running_loop().create_task(_produce(lm, kwargs, send, outcome))
        try:
            async with receive:
                async for message in _buffered_first(receive):
                    if isinstance(message, Opened):
                        chunks = message.reader
                        yield RequestSent(message.sent_at)
                    else:
                        yield message
        finally:
            await _stop(producer)
        if outcome.error is not None:
            raise self._failure(outcome.error, kwargs, chunks) from outcome.error
        if chunks.count == 0 and outcome.result is not None:
            # A cache hit: DSPy answers from its cache without streaming anything.
            for item in self._whole_response(outcome.result):
                yield item
            return
        if chunks.finish_reason is None:
            cut = ModelError(
                "the stream ended before the model finished", kind="connection", retryable=True
            )
            raise self._failure(cut, kwargs, chunks)
        for call in chunks.tool_calls():
            yield call
        yield self._stream_usage(kwargs["messages"], chunks)
        yield Finish(chunks.finish_reason, streamed=True)

    def _failure(
        self, exc: BaseException, kwargs: dict[str, Any], chunks: ChunkReader
    ) -> ModelError:
        """The error for a failed stream, carrying the tokens already spent on it."""
        # Providers bill a stream cut short for what they generated.
        usage = self._stream_usage(kwargs["messages"], chunks) if chunks.count > 0 else None
        return to_model_error(exc, mid_stream=chunks.count > 0, usage=usage)

    def _stream_usage(self, messages: list[dict[str, Any]], chunks: ChunkReader) -> Usage:
        """The usage of a stream: the provider's when it sent a possible one, else counted
        from the whole text (never from LiteLLM's count over the chunks it still holds)."""
        if chunks.usage is None:
            return self.estimate_usage(messages, chunks.text(), pieces=chunks.text_chunks)
        prompt, completion = chunks.usage
        if completion >= chunks.text_chunks:
            return self._usage(prompt, completion)
        counted = max(self._count(text=chunks.text()), chunks.text_chunks)
        usage = self._usage(prompt, counted)
        note = (
            f"usage reported {completion} completion tokens for {chunks.text_chunks} chunks "
            f"of text; {counted} counted from the text"
        )
        return Usage(usage.prompt_tokens, counted, usage.cost_usd, estimated=True, note=note)

    def estimate_usage(self, messages: list[dict[str, Any]], text: str, pieces: int = 0) -> Usage:
        """Tokens of ``messages`` and ``text`` by the model's tokenizer when LiteLLM knows it
        (a generic one otherwise), priced as the model is; the text arrived in ``pieces``
        chunks, each at least a token."""
        completion = max(self._count(text=text) if text else 0, pieces)
        usage = self._usage(self._count(messages=messages), completion)
        return Usage(usage.prompt_tokens, usage.completion_tokens, usage.cost_usd, estimated=True)

    def _count(self, **content: Any) -> int:
        try:
            return int(import_litellm().token_counter(model=self.litellm_model, **content))
        except Exception:
            # A rough count beats none: about four characters a token in English.
            size = len(json.dumps(content, ensure_ascii=False))
            return max(1, size // 4)

    def _whole_response(self, response: Any) -> list[ModelItem]:
        """The items of a response that arrived in one piece (not streamed, or cached)."""
        try:
            choice = response.choices[0]
            message = choice.message
            text = message.content or ""
            calls = [
                tool_call(call.id, call.function.name, call.function.arguments)
                for call in message.tool_calls or ()
            ]
        except (AttributeError, IndexError, TypeError) as exc:
            raise ModelError(f"malformed response: {exc!r}", kind="malformed") from exc
        items: list[ModelItem] = [TextDelta(text)] if text else []
        items.extend(calls)
        cached = bool(getattr(response, "cache_hit", False))
        usage = getattr(response, "usage", None)
        if cached:
            items.append(Usage())
        elif usage:
            items.append(
                self._usage(tokens(usage, "prompt_tokens"), tokens(usage, "completion_tokens"))
            )
        items.append(Finish(choice.finish_reason, streamed=False, cached=cached))
        return items


class _StreamOutcome:
    __slots__ = ("error", "result")

    def __init__(self) -> None:
        self.result: Any = None
        self.error: BaseException | None = None


async def _produce(
    lm: dspy.LM, kwargs: dict[str, Any], send: MemoryObjectSendStream[Any], outcome: _StreamOutcome
) -> None:
    """Run the DSPy call: chunks go to ``send``, the result or failure to ``outcome``."""
    async with send:
        try:
            with dspy.context(lm=lm, send_stream=send, **CALL_SETTINGS):
                outcome.result = await lm.aforward(**kwargs)
        except Exception as exc:
            # Kept, not raised: the consumer reports it together with what it already saw.
            outcome.error = exc


async def _buffered_first(receive: MemoryObjectReceiveStream[Any]) -> AsyncGenerator[Any, None]:
    """The stream's items; those already waiting are taken without first yielding to the event
    loop as ``receive`` does, which a fast stream would otherwise pay for every chunk."""
    while True:
        try:
            item = receive.receive_nowait()
        except anyio.WouldBlock:
            try:
                item = await receive.receive()
            except anyio.EndOfStream:
                return
        except anyio.EndOfStream:
            return
        yield item


async def _stop(producer: asyncio.Task[None]) -> None:
    """Cancel the producer if it still runs, and wait until it has let go.

    DSPy closes LiteLLM's stream, and with it the HTTP response, as the cancellation
    unwinds; once this returns the server has been hung up on.
    """
    if not producer.done():
        producer.cancel()
    with anyio.CancelScope(shield=True):
        await asyncio.wait({producer})


def _schema_name(request: ModelRequest) -> str:
    # OpenAI takes [A-Za-z0-9_-]{1,64} only.
    title = request.output_schema.get("title") if request.output_schema else None
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(title or request.agent or "output"))[:64] or "output"


def _with_schema_instruction(
    messages: list[dict[str, Any]], schema: dict[str, Any]
) -> list[dict[str, Any]]:
    instruction = (
        "Answer with a single JSON value that matches this JSON Schema, and nothing else "
        "(no prose, no code fences):\n" + json.dumps(schema, ensure_ascii=False)
    )
    first = messages[0] if messages else {}
    if first.get("role") == "system" and isinstance(first.get("content"), str):
        return [{**first, "content": first["content"] + "\n\n" + instruction}, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]
