"""The model client for real models: DSPy's ``LM`` over LiteLLM, streamed chunk by chunk.

Tide sends its own OpenAI-style messages, so no DSPy adapter or signature is involved: the
text a user sees is exactly the text the model produced. DSPy is the transport (its ``LM``
with the LiteLLM engine, its in-memory response cache, its ``send_stream`` hook that hands
over LiteLLM's raw chunks); everything else a call needs is decided here.

Import this module only when a real model is used: it imports DSPy and LiteLLM.
"""

from __future__ import annotations

import os

# LiteLLM reads this at import: the bundled price map, never a network fetch.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import dspy
from anyio.streams.memory import MemoryObjectSendStream

from runtime.models._dspy import (
    CALL_SETTINGS,
    ensure_configured,
    import_litellm,
    to_model_error,
)
from runtime.models.base import (
    Finish,
    ModelError,
    ModelItem,
    ModelRequest,
    TextDelta,
    ToolCallRequest,
    Usage,
)
from runtime.models.credentials import is_local_api_base
from runtime.models.pricing import Price, cost_usd

# Settings given to ``dspy.LM`` itself (they also pick the cached LM) and settings passed per
# call. Anything else in ``request.settings`` belongs to the agent loop (retries, timeouts).
LM_SETTINGS = ("temperature", "max_tokens")
CALL_OPTIONS = (
    "top_p",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning_effort",
)
# Chunks DSPy may hand over before the consumer takes them. Large enough that the transport
# rarely waits on a slow consumer, small enough to bound memory if the consumer stalls.
STREAM_BUFFER = 256
LOCAL_PROVIDERS = frozenset({"scripted", "local"})

__all__ = ["LLMClient", "Price"]


class LLMClient:
    """Makes calls to one model through LiteLLM, via a ``dspy.LM`` per distinct setting."""

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
        ensure_configured()
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

    def _is_local(self, api_base: str | None) -> bool:
        return self._provider in LOCAL_PROVIDERS or is_local_api_base(api_base)

    def supports_json_schema(self) -> bool:
        """Whether the model takes ``response_format`` with a JSON schema.

        LiteLLM knows this for hosted models only. Local OpenAI-compatible servers (the
        scripted server, llama.cpp's server) constrain output to a schema, so they count too.
        """
        if self._schema_support is None:
            if self._is_local(self.api_base):
                self._schema_support = True
            else:
                try:
                    litellm = import_litellm()
                    self._schema_support = bool(
                        litellm.supports_response_schema(model=self.litellm_model)
                    )
                except Exception:
                    self._schema_support = False
        return self._schema_support

    def _lm(self, request: ModelRequest) -> dspy.LM:
        api_base = request.api_base or self.api_base
        api_key = request.api_key or self.api_key
        settings = tuple(request.settings.get(name) for name in LM_SETTINGS)
        key = (self.litellm_model, api_base, api_key, settings)
        lm = self._lms.get(key)
        if lm is None:
            lm = dspy.LM(
                self.litellm_model,
                model_type="chat",
                # Our own transport choice: the native lm15 engine would not hand over
                # LiteLLM's raw chunks through send_stream.
                engine="litellm",
                cache=False,
                # The agent loop retries; a hidden retry here would double its count and
                # delay its events.
                num_retries=0,
                api_base=api_base,
                api_key=api_key,
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
            # LiteLLM 1.106 checks function tools for MCP gateway tools by importing its
            # proxy's MCP code, which needs the optional ``mcp`` package; Tide sends plain
            # function tools only, so the check is skipped (LiteLLM strips this key).
            kwargs["_skip_mcp_handler"] = True
        if request.output_schema is not None:
            if self.supports_json_schema():
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
            use_litellm=not self._is_local(self.api_base),
        )
        return Usage(prompt_tokens, completion_tokens, cost)

    def _estimated_usage(self, messages: list[dict[str, Any]], text: str) -> Usage:
        """Tokens spent by an attempt that failed before the provider reported usage.

        Providers bill a stream cut short for what they generated, so an estimate from
        LiteLLM's tokenizer is closer to the truth than nothing.
        """
        litellm = import_litellm()
        try:
            prompt = int(litellm.token_counter(model=self.litellm_model, messages=messages))
            completion = int(litellm.token_counter(model=self.litellm_model, text=text))
        except Exception:
            return Usage()
        return self._usage(prompt, completion)

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelItem]:
        """Yield the answer as it arrives (see ``ModelClient.stream``).

        Close the iterator when stopping early (``contextlib.aclosing``) so the upstream
        response is closed at once rather than whenever it is garbage-collected.
        """
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

        assembler = _Assembler()
        outcome = _Outcome()
        send, receive = anyio.create_memory_object_stream[Any](max_buffer_size=STREAM_BUFFER)
        # A plain task, not a task group: a cancel scope must not stay open across the
        # yields below, or a consumer that puts a timeout around each step, or that closes
        # us from another task, breaks anyio's scope nesting. DSPy's async LM runs on
        # asyncio only, so using asyncio directly loses nothing.
        producer = asyncio.get_running_loop().create_task(_produce(lm, kwargs, send, outcome))
        try:
            async with receive:
                async for chunk in receive:
                    for item in assembler.feed(chunk):
                        yield item
        finally:
            await _stop(producer)
        if outcome.error is not None:
            raise self._failure(outcome.error, kwargs, assembler) from outcome.error
        if assembler.chunks == 0 and outcome.result is not None:
            # A cache hit: DSPy answers from its cache without streaming anything.
            for item in self._whole_response(outcome.result):
                yield item
            return
        if assembler.finish_reason is None:
            cut = ModelError("the stream ended before the model finished", kind="connection")
            raise self._failure(cut, kwargs, assembler)
        for call in assembler.tool_calls():
            yield call
        if assembler.usage is not None:
            yield self._usage(*assembler.usage)
        yield Finish(assembler.finish_reason, streamed=True)

    def _failure(
        self, exc: BaseException, kwargs: dict[str, Any], assembler: _Assembler
    ) -> ModelError:
        mid_stream = assembler.chunks > 0
        usage: Usage | None = None
        if assembler.usage is not None:
            usage = self._usage(*assembler.usage)
        elif mid_stream:
            usage = self._estimated_usage(kwargs["messages"], assembler.text())
        return to_model_error(exc, mid_stream=mid_stream, usage=usage)

    def _whole_response(self, response: Any) -> list[ModelItem]:
        """The items of a response that arrived in one piece (unstreamed, or cached)."""
        try:
            choice = response.choices[0]
            message = choice.message
            text = message.content or ""
            raw_calls = message.tool_calls or []
            calls = [
                ToolCallRequest(
                    call.id or _call_id(),
                    call.function.name or "",
                    _parse_arguments(call.function.arguments or ""),
                )
                for call in raw_calls
            ]
            reason = choice.finish_reason
        except (AttributeError, IndexError, TypeError) as exc:
            raise ModelError(f"malformed response: {exc}", kind="malformed") from exc
        items: list[ModelItem] = []
        if text:
            items.append(TextDelta(text))
        items.extend(calls)
        cached = bool(getattr(response, "cache_hit", False))
        usage = getattr(response, "usage", None)
        if cached:
            items.append(Usage())
        elif usage:
            items.append(
                self._usage(_tokens(usage, "prompt_tokens"), _tokens(usage, "completion_tokens"))
            )
        items.append(Finish(reason, streamed=False, cached=cached))
        return items


class _Outcome:
    __slots__ = ("error", "result")

    def __init__(self) -> None:
        self.result: Any = None
        self.error: BaseException | None = None


async def _produce(
    lm: dspy.LM, kwargs: dict[str, Any], send: MemoryObjectSendStream[Any], outcome: _Outcome
) -> None:
    """Run the DSPy call; its chunks go to ``send``, its result or failure to ``outcome``."""
    async with send:
        try:
            with dspy.context(lm=lm, send_stream=send, **CALL_SETTINGS):
                outcome.result = await lm.aforward(**kwargs)
        except Exception as exc:
            # Kept rather than raised: the consumer side reports it with what it saw.
            outcome.error = exc


async def _stop(producer: asyncio.Task[None]) -> None:
    """Cancel the producer if it is still running and wait until it has let go.

    DSPy closes LiteLLM's stream (and with it the HTTP response) as the cancellation
    unwinds, so once this returns the server has been hung up on.
    """
    if not producer.done():
        producer.cancel()
    with anyio.CancelScope(shield=True):
        await asyncio.wait({producer})


class _Assembler:
    """Turns LiteLLM's streamed chunks into items, keeping what the end of the stream needs."""

    __slots__ = ("_calls", "_text", "chunks", "finish_reason", "usage")

    def __init__(self) -> None:
        self.chunks = 0
        self.finish_reason: str | None = None
        self.usage: tuple[int, int] | None = None
        self._text: list[str] = []
        # index -> [id, name, argument fragments]
        self._calls: dict[int, list[Any]] = {}

    def feed(self, chunk: Any) -> list[ModelItem]:
        self.chunks += 1
        usage = getattr(chunk, "usage", None)
        if usage:
            self.usage = (_tokens(usage, "prompt_tokens"), _tokens(usage, "completion_tokens"))
        choices = getattr(chunk, "choices", None)
        if not choices:
            return []
        choice = choices[0]
        if choice.finish_reason is not None:
            self.finish_reason = choice.finish_reason
        delta = choice.delta
        if delta is None:
            return []
        for call in getattr(delta, "tool_calls", None) or ():
            self._add_call(call)
        content = delta.content
        if content:
            self._text.append(content)
            return [TextDelta(content)]
        return []

    def _add_call(self, call: Any) -> None:
        index = call.index if isinstance(call.index, int) else len(self._calls)
        entry = self._calls.setdefault(index, [None, None, []])
        if call.id:
            entry[0] = call.id
        function = call.function
        if function is not None:
            if function.name:
                entry[1] = function.name
            if function.arguments:
                entry[2].append(function.arguments)

    def tool_calls(self) -> list[ToolCallRequest]:
        return [
            ToolCallRequest(call_id or _call_id(), name or "", _parse_arguments("".join(fragments)))
            for call_id, name, fragments in (self._calls[i] for i in sorted(self._calls))
        ]

    def text(self) -> str:
        return "".join(self._text)


def _tokens(usage: Any, name: str) -> int:
    value = usage.get(name) if isinstance(usage, dict) else getattr(usage, name, None)
    return int(value or 0)


def _call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def _parse_arguments(text: str) -> dict[str, Any]:
    """Tool arguments as a dict; text that is not a JSON object is kept under ``_raw``
    so the agent loop can report it to the model instead of failing the turn."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"_raw": text}
    return value if isinstance(value, dict) else {"_raw": text}


def _schema_name(request: ModelRequest) -> str:
    # OpenAI accepts [A-Za-z0-9_-]{1,64} only.
    title = request.output_schema.get("title") if request.output_schema else None
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(title or request.agent or "output"))[:64]
    return name or "output"


def _with_schema_instruction(
    messages: list[dict[str, Any]], schema: dict[str, Any]
) -> list[dict[str, Any]]:
    instruction = (
        "Answer with a single JSON value that matches this JSON Schema, and nothing else "
        "(no prose, no code fences):\n" + json.dumps(schema, ensure_ascii=False)
    )
    if (
        messages
        and messages[0].get("role") == "system"
        and isinstance(messages[0].get("content"), str)
    ):
        first = {**messages[0], "content": messages[0]["content"] + "\n\n" + instruction}
        return [first, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]
