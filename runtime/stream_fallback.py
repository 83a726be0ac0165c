"""When a model call is repeated without streaming: the provider or model cannot stream.

Some OpenAI-compatible servers answer a streaming request with one JSON body, which reads as a
stream that carries nothing; some providers refuse streaming for some models with an error
that says so; and a user may list models that never stream (``TIDE_NON_STREAMING_MODELS``).
The agent loop then asks once more without streaming and shows the whole answer as one chunk.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

from runtime.models.base import ModelError

_CANNOT_STREAM = re.compile(
    r"stream\w*\W+(?:\w+\W+){0,4}?(?:not\s+(?:be\s+)?supported|unsupported|not\s+available|"
    r"not\s+allowed|disabled)|(?:does\s+not|doesn't|cannot|can't)\s+(?:support\s+)?stream",
    re.IGNORECASE,
)


def cannot_stream(error: ModelError) -> bool:
    """Whether ``error`` says that streaming is what the provider refused."""
    return error.kind not in ("timeout", "rate_limit", "connection") and bool(
        _CANNOT_STREAM.search(str(error))
    )


def listed(model: str, patterns: Iterable[str]) -> bool:
    """Whether ``model`` matches one of ``patterns`` (``provider/model``, ``*`` wildcards)."""
    return any(fnmatch.fnmatchcase(model, pattern.strip()) for pattern in patterns if pattern)


def reason_for_empty_stream() -> str:
    return "the streamed answer carried no text and no tool calls (a server that cannot stream)"
