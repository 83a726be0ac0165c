"""A model whose answers come from a Python function: agent code tested without a network.

    def answer(request: ModelRequest) -> str | list[ModelItem]:
        if request.round == 1:
            return [TextDelta("Let me check. "), ToolCallRequest("c1", "lookup", {"q": "x"})]
        return "Found it."

    result = await runtime.run(path, models={"openai/gpt-4o-mini": FunctionModel(answer)})

The function receives every ``ModelRequest`` (the messages so far, tool results included) and
returns one of:

- a ``str``: the answer's text, streamed a word at a time when the request streams;
- a sequence of ``ModelItem``s (``str`` items count as ``TextDelta``s), yielded in order;
- an async iterator of them (an ``async def`` generator), for answers that take time or fail
  part-way; raising ``ModelError`` inside it is a model failure at that point of the stream.

Anything else is a malformed answer (a ``ModelError``); other exceptions the function raises
are not caught, so a failing assertion inside it fails the test that uses it.

The function may also be ``async`` and return any of these. A ``Finish`` is added when the
answer has none, and a ``Usage`` estimated from word counts when it has none, so cost events
always carry numbers a test can check. Every request is kept in ``requests`` (unless
``keep_requests=False``).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeAlias

import anyio.lowlevel

from runtime.models.base import (
    Finish,
    ModelError,
    ModelItem,
    ModelRequest,
    RequestSent,
    TextDelta,
    ToolCallRequest,
    Usage,
)

FunctionAnswer: TypeAlias = str | Sequence[ModelItem | str] | AsyncIterator[ModelItem | str]
AnswerFunction: TypeAlias = Callable[[ModelRequest], FunctionAnswer | Awaitable[FunctionAnswer]]

_PIECES = re.compile(r"\S+\s*|\s+")


def _words(text: str) -> int:
    return len(text.split())


def prompt_words(request: ModelRequest) -> int:
    """The words in every message: a ``FunctionModel``'s deterministic stand-in for prompt
    tokens (the scripted server estimates tokens from characters instead)."""
    total = 0
    for message in request.messages:
        content = message.get("content")
        if isinstance(content, str):
            total += _words(content)
    return total


class FunctionModel:
    """A ``ModelClient`` that answers with ``function(request)``."""

    def __init__(
        self,
        function: AnswerFunction,
        *,
        model: str = "function",
        provider: str = "function",
        keep_requests: bool = True,
    ) -> None:
        self.function = function
        self._model = model
        self._provider = provider
        self._keep_requests = keep_requests
        self.requests: list[ModelRequest] = []

    @property
    def model(self) -> str:
        return self._model

    @property
    def provider(self) -> str:
        return self._provider

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelItem]:
        if self._keep_requests:
            self.requests.append(request)
        answer = self.function(request)
        if inspect.isawaitable(answer):
            answer = await answer
        saw_usage = saw_finish = saw_call = False
        completion_words = 0
        async for item in _items(answer, request.stream):
            if isinstance(item, TextDelta):
                completion_words += _words(item.text)
            elif isinstance(item, ToolCallRequest):
                saw_call = True
            elif isinstance(item, Usage):
                saw_usage = True
            elif isinstance(item, Finish):
                saw_finish = True
            yield item
        if not saw_usage:
            yield Usage(prompt_tokens=prompt_words(request), completion_tokens=completion_words)
        if not saw_finish:
            yield Finish("tool_calls" if saw_call else "stop", streamed=request.stream)


def text_deltas(text: str, stream: bool) -> list[TextDelta]:
    """``text`` as a streamed answer's deltas, a word at a time; one delta when not streaming."""
    pieces: Iterable[str] = _PIECES.findall(text) if stream else [text]
    return [TextDelta(piece) for piece in pieces if piece]


async def _items(answer: FunctionAnswer, stream: bool) -> AsyncIterator[ModelItem]:
    if isinstance(answer, str):
        for delta in text_deltas(answer, stream):
            await anyio.lowlevel.checkpoint()
            yield delta
        return
    if isinstance(answer, AsyncIterator):
        async for item in answer:
            yield _item(item)
        return
    if isinstance(answer, Sequence):
        for item in answer:
            await anyio.lowlevel.checkpoint()
            yield _item(item)
        return
    raise ModelError(
        "a FunctionModel's function must return a str, a list of model items or an async "
        f"iterator of them, not {type(answer).__name__}",
        kind="malformed",
    )


def _item(item: Any) -> ModelItem:
    if isinstance(item, str):
        return TextDelta(item)
    if isinstance(item, (TextDelta, ToolCallRequest, Usage, Finish, RequestSent)):
        return item
    raise ModelError(f"not a model item: {item!r}", kind="malformed")


__all__ = ["AnswerFunction", "FunctionAnswer", "FunctionModel"]
