"""What the model client needs to know about DSPy and LiteLLM: the process-wide setup, the
shape of LiteLLM's streamed chunks, and the chain of exceptions a failed call raises.

DSPy keeps global state: a response cache (on disk by default) and settings that only the
thread that first called ``dspy.configure`` may change. Tide touches both exactly once, here,
and otherwise passes everything a call needs through ``dspy.context``, which is safe from any
thread or task.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import gc
import importlib
import json
import logging
import math
import os
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import anyio.to_thread

from runtime.models._first_call import prepare_first_call
from runtime.models.base import (
    ModelError,
    ModelErrorKind,
    ModelItem,
    TextDelta,
    ToolCallRequest,
    Usage,
)

# LiteLLM reads this when it is imported; without it, the import fetches the price map from
# the network, which makes costs depend on the day and the import slow or failing offline.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# ``request.cache`` keeps answers in memory for the life of the process; the bound keeps a
# long-running server from growing without limit.
MEMORY_CACHE_ENTRIES = 1000

# What every Tide call runs under. History would keep every response in DSPy's global list
# (10,000 entries by default); usage tracking is Tide's job.
CALL_SETTINGS: dict[str, object] = {"disable_history": True, "track_usage": False}

_lock = threading.Lock()
_cache_configured = False
_settings_configured = False


@contextmanager
def collections_paused() -> Iterator[None]:
    """No garbage collection while DSPy and LiteLLM are imported.

    The import creates about a million objects that live as long as the process. On the way,
    the allocations set off full collections (six for LiteLLM alone), each walking everything
    imported so far and freeing nothing: 0.4 to 0.7 s of the import on a 2-core machine.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def import_litellm() -> ModuleType:
    """LiteLLM, imported only after the offline price map has been selected."""
    with collections_paused():
        import litellm

    return litellm


def _hide_truncation_advice(record: logging.LogRecord) -> bool:
    # A reply cut at max_tokens reaches the agent loop as Finish("length"); DSPy's warning
    # would send Tide's users to dspy.inspect_history, which Tide's calls never fill.
    return not str(record.msg).startswith("LM response was truncated")


def _may_configure() -> bool:
    """Whether this thread may call ``dspy.configure`` without breaking DSPy's ownership rule.

    DSPy lets only the first configuring thread configure again. A worker thread (a
    ``to_thread`` call, a server's request thread) must never become that owner, or the
    main thread could no longer configure DSPy. Inside an async task DSPy would also bind
    configuration to that task, refusing it to every other task, so that is avoided too.
    """
    # The module, not the ``settings`` object its package re-exports under the same name.
    dspy_settings = importlib.import_module("dspy.dsp.utils.settings")
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        if asyncio.current_task() is not None:
            return False
    except RuntimeError:
        pass  # no running event loop: a plain synchronous caller
    owner = dspy_settings.config_owner_thread_id
    return owner is None or owner == threading.get_ident()


def configured() -> bool:
    """Whether DSPy and LiteLLM are imported and set up (by :func:`ensure_configured`)."""
    return _cache_configured


def ensure_configured() -> None:
    """Configure DSPy once per process: no disk cache, no history, LiteLLM quiet.

    Safe to call from anywhere and as often as wanted. The DSPy settings are applied only from
    the main thread outside any async task; until then calls still run correctly because each
    carries ``CALL_SETTINGS`` in its ``dspy.context``. Call it at start-up, before the event
    loop runs, to set DSPy's process defaults as well.
    """
    global _cache_configured, _settings_configured
    if _settings_configured:
        return
    with _lock:
        if not _cache_configured:
            with collections_paused():
                _import_and_set_up()
            _cache_configured = True
        if not _settings_configured and _may_configure():
            import dspy

            dspy.configure(**CALL_SETTINGS)
            _settings_configured = True


async def configure_off_loop() -> None:
    """:func:`ensure_configured` in a worker thread, the first time only: the import takes
    seconds, during which the event loop (an IDE's other streams and requests) goes on. A
    cancelled caller does not wait for it: it ends in its thread, for the next."""
    if not configured():
        await anyio.to_thread.run_sync(ensure_configured, abandon_on_cancel=True)


def _import_and_set_up() -> None:
    import dspy
    from dspy.clients._litellm import get_litellm

    # Replaces the lazily built default cache before anything reads it, so no cache
    # directory is ever created under the user's home.
    dspy.configure_cache(
        enable_disk_cache=False,
        enable_memory_cache=True,
        disk_cache_dir=None,
        memory_max_entries=MEMORY_CACHE_ENTRIES,
    )
    # DSPy's LiteLLM defaults: no telemetry, no LiteLLM cache, no debug banners
    # printed to stdout when an exception is mapped.
    get_litellm(feature="tide")
    prepare_first_call()
    logging.getLogger("dspy.clients.lm").addFilter(_hide_truncation_advice)
    # Importing LiteLLM and DSPy leaves about 400,000 long-lived objects, which every full
    # collection would walk again: a pause of about 250 ms, in the middle of whatever streams
    # at the time. Frozen, they are left out of collections.
    gc.freeze()


# --- Reading LiteLLM's chunks --------------------------------------------------------


# An empty delta: the stream is alive though nothing shows yet (a tool call arriving).
STILL_STREAMING = TextDelta("")


class ChunkReader:
    """Reads LiteLLM's streamed chunks: text as it comes, the rest for the end."""

    __slots__ = ("_calls", "_text", "count", "finish_reason", "id", "text_chunks", "usage")

    def __init__(self) -> None:
        self.count = 0
        # Chunks that carried text: each is at least one token, whatever usage says.
        self.text_chunks = 0
        self.id: str | None = None
        self.finish_reason: str | None = None
        self.usage: tuple[int, int] | None = None
        self._text: list[str] = []
        # Tool calls arrive in pieces keyed by index: [id, name, argument fragments].
        self._calls: dict[int, list[Any]] = {}

    def feed(self, chunk: Any) -> list[ModelItem]:
        self.count += 1
        if self.id is None:
            self.id = getattr(chunk, "id", None)
        usage = getattr(chunk, "usage", None)
        if usage:
            self.usage = (tokens(usage, "prompt_tokens"), tokens(usage, "completion_tokens"))
        if not chunk.choices:
            return []
        choice = chunk.choices[0]
        if choice.finish_reason is not None:
            self.finish_reason = choice.finish_reason
        delta = choice.delta
        if delta is None:
            return []
        for call in delta.tool_calls or ():
            index = call.index if isinstance(call.index, int) else len(self._calls)
            entry = self._calls.setdefault(index, [None, None, []])
            entry[0] = call.id or entry[0]
            if call.function is not None:
                entry[1] = call.function.name or entry[1]
                if call.function.arguments:
                    entry[2].append(call.function.arguments)
        if delta.content:
            self.text_chunks += 1
            self._text.append(delta.content)
            return [TextDelta(delta.content)]
        if delta.tool_calls:
            # Tool calls are only yielded once complete, which for long arguments can take
            # longer than a consumer waits between items. An empty delta shows progress.
            return [STILL_STREAMING]
        return []

    def raw_tool_calls(self) -> list[tuple[str | None, str | None, str]]:
        """The tool calls as sent: id, name and the arguments' text, in index order."""
        calls = (self._calls[index] for index in sorted(self._calls))
        return [(id_, name, "".join(parts)) for id_, name, parts in calls]

    def tool_calls(self) -> list[ToolCallRequest]:
        return [tool_call(*call) for call in self.raw_tool_calls()]

    def text(self) -> str:
        return "".join(self._text)


def tokens(usage: Any, name: str) -> int:
    """A token count from LiteLLM's usage, an object or (from a cache) a dict."""
    value = usage.get(name) if isinstance(usage, dict) else getattr(usage, name, None)
    return int(value or 0)


def tool_call(call_id: str | None, name: str | None, arguments: str | None) -> ToolCallRequest:
    return ToolCallRequest(
        call_id or f"call_{uuid.uuid4().hex[:24]}", name or "", parse_arguments(arguments or "")
    )


def parse_arguments(text: str) -> dict[str, Any]:
    """Tool arguments as a dict. Text that is not a JSON object is kept under ``_raw`` so
    that the agent loop can show the model its mistake instead of failing the turn."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"_raw": text}
    return value if isinstance(value, dict) else {"_raw": text}


# --- Reading failures ------------------------------------------------------------------
# DSPy wraps LiteLLM's exceptions (themselves wrapping the OpenAI SDK's and httpx's) in its
# own LMError classes, chained through __cause__. Each layer knows something: DSPy the
# status and parsed Retry-After, LiteLLM the response headers, httpx what the socket did.
# So the whole chain is read, by class name, without importing any of those packages here.

_TIMEOUTS = frozenset({"Timeout", "APITimeoutError", "TimeoutException", "LMTimeoutError"})
_CONNECTION = frozenset(
    {"APIConnectionError", "TransportError", "LMTransportError", "MidStreamFallbackError"}
)
_MALFORMED = frozenset(
    {"JSONDecodeError", "APIResponseValidationError", "StreamAssemblyError", "DecodingError"}
)
_CONFIG = frozenset({"LMConfigurationError", "LMUnsupportedFeatureError", "UnsupportedParamsError"})
_AUTH_STATUSES = frozenset({401, 403})


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 16:
        seen.append(current)
        # As a traceback shows it: an exception raised "from None" hides what it replaced.
        hidden = current.__suppress_context__
        current = current.__cause__ or (None if hidden else current.__context__)
    return seen


def _names(chain: list[BaseException]) -> set[str]:
    return {cls.__name__ for exc in chain for cls in type(exc).__mro__}


def _status(chain: list[BaseException]) -> int | None:
    for exc in chain:
        for attr in ("status", "status_code"):
            value = getattr(exc, attr, None)
            if isinstance(value, str) and value.isdecimal():
                value = int(value)
            if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
                return value
    return None


def _seconds(value: object) -> float | None:
    """A Retry-After value (seconds, or an HTTP date) as seconds from now."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(str(value))
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        seconds = (when - datetime.datetime.now(datetime.UTC)).total_seconds()
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _retry_after(chain: list[BaseException]) -> float | None:
    for exc in chain:
        response = getattr(exc, "response", None)
        for headers in (
            getattr(exc, "litellm_response_headers", None),
            getattr(response, "headers", None),
            getattr(exc, "headers", None),
        ):
            if not headers or not hasattr(headers, "get"):
                continue
            millis = _seconds(headers.get("retry-after-ms"))
            if millis is not None:
                return millis / 1000
            seconds = _seconds(headers.get("retry-after"))
            if seconds is not None:
                return seconds
    for exc in chain:
        seconds = _seconds(getattr(exc, "retry_after", None))
        if seconds is not None:
            return seconds
    return None


_JSON_ERROR = re.compile(
    r"Unterminated string|Expecting (?:value|property name|',' delimiter|':' delimiter)|"
    r"Extra data: line|Invalid control character|JSONDecodeError"
)


def _classify(names: set[str], status: int | None, mid_stream: bool) -> tuple[ModelErrorKind, bool]:
    if names & _MALFORMED:
        return "malformed", False
    if names & _TIMEOUTS or status == 408:
        return "timeout", True
    if mid_stream:
        # Whatever ends a stream that was already flowing (a reset, a truncated body, an
        # error event) is, to the caller, a dropped connection.
        return "connection", True
    if names & _CONFIG:
        return "config", False
    if status == 429 or "RateLimitError" in names:
        return "rate_limit", True
    if status in _AUTH_STATUSES or names & {"AuthenticationError", "PermissionDeniedError"}:
        return "auth", False
    if names & _CONNECTION or names & {"ConnectionError", "ConnectError", "ReadError"}:
        return "connection", True
    if status is not None:
        return "http", status >= 500
    return "http", False


def to_model_error(exc: BaseException, *, mid_stream: bool, usage: Usage | None) -> ModelError:
    """The ``ModelError`` for a failed call. ``mid_stream``: chunks had already arrived."""
    chain = _chain(exc)
    # Tide's own (a malformed chunk), perhaps wrapped by DSPy on the way out.
    own = next((e for e in chain if isinstance(e, ModelError)), None)
    if own is not None:
        if own.usage is None:
            own.usage = usage
        return own
    names = _names(chain)
    status = _status(chain)
    kind, retryable = _classify(names, status, mid_stream)
    if _JSON_ERROR.search(" ".join(str(e) for e in chain)):
        # The OpenAI client's JSON decoder failed on a chunk; LiteLLM calls it a connection error.
        kind, retryable = "malformed", not mid_stream
    if kind in ("connection", "timeout", "malformed"):
        # LiteLLM gives these a made-up status (500, 408, 503) that no server sent.
        status = None
    # lm15's remedies ("To fix: ... lm15 never retries") speak of DSPy's API, not Tide's.
    message = (str(exc) or type(exc).__name__).split("\n\n  To fix:")[0]
    return ModelError(
        message,
        kind=kind,
        status=status,
        retryable=retryable,
        retry_after=_retry_after(chain) if kind in ("rate_limit", "http") else None,
        usage=usage,
    )
