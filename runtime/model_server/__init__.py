"""A scripted, offline, deterministic OpenAI-compatible model server.

Tests, benchmarks and users point LiteLLM, DSPy or the ``openai`` client at it instead of a real
provider (``model="openai/<name>"``, ``api_base=server.base_url``, any API key). It speaks the
real protocol over HTTP: ``POST /v1/chat/completions`` (streamed as SSE or not, with usage and
tool calls) and ``GET /v1/models``.

Each request takes the next reply of a script; without one the server writes deterministic
English derived from the prompt (or, when the request asks for a JSON schema, a value that
satisfies it). Replies can also inject faults: an HTTP error, a stall, a dropped connection, a
malformed chunk. ``/_tide/script`` (POST to replace, ``?append=1`` to append, GET, DELETE),
``/_tide/requests`` and ``/_tide/streams`` control and inspect it over HTTP;
``ScriptedModelServer`` offers the same in process.

A script file is the JSON form of :class:`Script`::

    {
      "replies": [
        "Hello! A bare string is a text reply.",
        {"match": "weather", "repeat": true,
         "tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]},
        {"json": {"answer": 42}, "tokens_per_second": 50},
        {"tokens": 2000},
        {"status": 429, "retry_after": 2},
        {"text": "Half of this arrives.", "drop_after_tokens": 3}
      ],
      "models": {"judge": [{"text": "PASS"}]}
    }

A request for model ``judge`` takes ``models["judge"]`` replies first, then ``replies``. In each
list it takes the first reply whose ``match`` regex is found in the last user message (a reply
without ``match`` always matches) and uses it up unless it has ``repeat``. Reply fields:

- content, at most one of ``text``, ``json`` (any JSON value, sent as JSON text) and ``tokens``
  (exactly that many pieces of default text); then ``tool_calls`` (``name``, ``arguments`` as an
  object or a raw string, optional ``id``); ``finish_reason`` overrides the natural one;
- ``status`` (400-599) with ``error`` as the message, ``retry_after`` seconds (429 sends
  ``Retry-After: 1`` by default);
- ``stall_before_first_token``, ``stall_after_tokens`` with ``stall_seconds``,
  ``drop_after_tokens``, ``malformed_after_tokens`` (counted in token pieces sent);
- ``tokens_per_second`` overrides the server's rate (0 = as fast as possible).

Completion tokens are the pieces sent (each text piece, each tool call's name and each of its
argument pieces); prompt tokens are the characters of the messages divided by four.
"""

from runtime.model_server.app import DEFAULT_MODEL
from runtime.model_server.script import (
    Reply,
    RequestRecord,
    Script,
    StreamRecord,
    ToolCall,
)
from runtime.model_server.server import ScriptedModelServer
from runtime.model_server.text import tokenize

__all__ = [
    "DEFAULT_MODEL",
    "Reply",
    "RequestRecord",
    "Script",
    "ScriptedModelServer",
    "StreamRecord",
    "ToolCall",
    "tokenize",
]
