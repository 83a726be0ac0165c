"""An agent's turn: the model call(s), streamed into events, with tools, retries, time limits and
structured output checked once the stream has finished."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import replace
from traceback import format_exc
from typing import Any

import anyio

from runtime.agent_session import AgentSession, TurnResult, TurnServices
from runtime.declarations import ToolDecl
from runtime.errors import AgentError, InternalError, OutputValidationError, TideError
from runtime.events import (
    AgentStreamChunkEvent,
    AgentTurnEvent,
    CostEvent,
    LogEvent,
    OutputValidationEvent,
    Stage,
    TextBuffer,
    ToolCallEvent,
)
from runtime.fields import json_schema, parse_answer
from runtime.model_errors import explain
from runtime.models.base import (
    Finish,
    ModelError,
    ModelRequest,
    RequestSent,
    TextDelta,
    ToolCallRequest,
    Usage,
)
from runtime.stream_fallback import cannot_stream, reason_for_empty_stream
from runtime.templates import render
from runtime.tools import tool_spec
from runtime.turn_account import TurnAccount


class _Silent(Exception):
    """The cause of a first-token timeout: Tide's own watchdog, not the provider's error."""


class _Turn:
    def __init__(
        self,
        session: AgentSession,
        services: TurnServices,
        tools: list[ToolDecl],
        message: str | None,
        options: dict[str, Any],
    ) -> None:
        self.session = session
        self.services = services
        self.bus = services.bus
        self.tools = {tool.name or f"tool{tool.id}": tool for tool in tools}
        self.message = message
        self.options = options
        self.number = session.turns
        self.buffer = TextBuffer()
        self.account = TurnAccount()
        self.tool_log: list[dict[str, Any]] = []
        self.done_reason: str | None = None
        self._produced_in_call = False
        self._call_usage = False

    # -- the turn -------------------------------------------------------------------------------

    async def run(self) -> TurnResult:
        session, bus = self.session, self.bus
        bus.emit(
            AgentTurnEvent,
            agent=session.name,
            turn=self.number,
            stage="started",
            model=session.model,
        )
        prior = len(session.history)
        messages = self._opening_messages()
        try:
            total = session.limits.total_timeout
            with anyio.fail_after(total) if total else nullcontext():
                output = await self._rounds(messages)
        except TimeoutError:
            raise self._fail(
                AgentError(
                    f"agent '{session.name}' took longer than its timeout of {session.limits.total_timeout:g} s",
                    kind="timeout",
                )
            ) from None
        except TideError as exc:
            raise self._fail(exc) from None
        except Exception as exc:
            message = f"agent '{session.name}' failed unexpectedly: {type(exc).__name__}: {exc}"
            raise self._fail(InternalError(message, detail=format_exc())) from exc
        except BaseException as exc:
            if isinstance(exc, anyio.get_cancelled_exc_class()):
                self._fail(AgentError("the run was cancelled", kind="cancelled"))
            raise
        text = self.buffer.text()
        self._emit_cost()
        duration = (time.monotonic() - self.account.started) * 1000
        bus.emit(
            AgentTurnEvent,
            agent=session.name,
            turn=self.number,
            stage="completed",
            model=session.model,
            duration_ms=duration,
            first_visible_token_ms=self.account.first_visible_token_ms,
            text=text,
        )
        # The messages are the system prompt, the history so far, then this turn's own.
        session.history.extend(messages[1 + prior :])
        return TurnResult(
            output=output,
            response=text,
            usage={
                "prompt_tokens": self.account.prompt_tokens,
                "completion_tokens": self.account.completion_tokens,
                "total_tokens": self.account.prompt_tokens + self.account.completion_tokens,
            },
            cost=self.account.cost_usd,
            turn=self.number,
            tool_calls=self.tool_log,
        )

    def _opening_messages(self) -> list[dict[str, Any]]:
        config = self.session.decl.config
        inputs, state = self.services.template_values()
        context = {k: v for k, v in self.options.items() if isinstance(v, (str, int, float, bool))}
        system = render(
            str(self.options.get("system_prompt") or config.system_prompt),
            inputs=inputs,
            state=state,
            context={**context, "message": self.message},
        )
        suffix = self.options.get("system_prompt_suffix")
        if suffix:
            system = f"{system}\n\n{suffix}"
        message = self.message
        if message is None and self.number == 1 and config.initial_message:
            message = render(config.initial_message, inputs=inputs, state=state, context=context)
        if message is None:
            message = "Continue." if self.session.history else "Begin."
        return [
            {"role": "system", "content": system},
            *self.session.history,
            {"role": "user", "content": message},
        ]

    async def _rounds(self, messages: list[dict[str, Any]]) -> Any:
        limits = self.session.limits
        output_fields = self.session.decl.config.output
        retries_left = limits.output_retries if output_fields else 0
        attempt = 0
        round_texts: list[str] = []
        for round_number in range(1, limits.max_tool_rounds + 2):
            if round_number > limits.max_tool_rounds:
                raise AgentError(
                    f"agent '{self.session.name}' used more than {limits.max_tool_rounds} tool rounds",
                    kind="tool_loop",
                    hint="raise max_tool_rounds on the agent, or give it a `done` tool",
                )
            text, calls = await self._model_call(messages, round_number)
            round_texts.append(text)
            assistant: dict[str, Any] = {"role": "assistant", "content": text or None}
            if calls:
                assistant["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {
                            "name": c.name,
                            "arguments": json.dumps(c.arguments, ensure_ascii=False),
                        },
                    }
                    for c in calls
                ]
            messages.append(assistant)
            if calls:
                for call in calls:
                    messages.append(await self._run_tool(call))
                if self.done_reason is None:
                    continue
            if not output_fields:
                text_so_far = self.buffer.text()
                if not text_so_far and self.done_reason:
                    return self.done_reason
                return text_so_far
            answer = next((t for t in reversed(round_texts) if t.strip()), "")
            data, issues = parse_answer(answer, output_fields)
            attempt += 1
            target = f"agent:{self.session.name}"
            if not issues:
                self.bus.emit(OutputValidationEvent, target=target, ok=True, attempt=attempt)
                return data
            if retries_left > 0 and self.done_reason is None:
                retries_left -= 1
                self.bus.emit(
                    OutputValidationEvent,
                    target=target,
                    ok=False,
                    errors=issues,
                    raw=answer,
                    attempt=attempt,
                    retried=True,
                )
                detail = "\n".join(f"- {i.path}: {i.message}" for i in issues)
                messages.append(
                    {
                        "role": "user",
                        "content": "Your answer did not match the required JSON schema:\n"
                        + detail
                        + "\nReply again with only the corrected JSON object.",
                    }
                )
                continue
            self.bus.emit(
                OutputValidationEvent,
                target=target,
                ok=False,
                errors=issues,
                raw=answer,
                attempt=attempt,
            )
            raise OutputValidationError(
                f"agent '{self.session.name}' answered with output that does not match its declared output: "
                + "; ".join(f"{i.path}: {i.message}" for i in issues),
                issues,
                raw=answer,
            )
        raise AssertionError("unreachable")

    # -- one model call, with retries before the first chunk ------------------------------------

    async def _model_call(
        self, messages: list[dict[str, Any]], round_number: int
    ) -> tuple[str, list[ToolCallRequest]]:
        session = self.session
        config = session.decl.config
        settings = config.settings()
        for key in ("temperature", "max_tokens"):
            if key in self.options:
                settings[key] = self.options[key]
        request = ModelRequest(
            agent=session.name,
            model=session.model,
            messages=list(messages),
            tools=[tool_spec(name, tool) for name, tool in self.tools.items()],
            output_schema=json_schema(config.output, "Answer") if config.output else None,
            settings=settings,
            stream=session.stream,
            cache=config.cache,
            api_base=config.api_base,
            turn=self.number,
            round=round_number,
        )
        attempt = 0
        while True:
            attempt += 1
            try:
                text, calls = await self._stream_once(request)
                if text or calls or not self._falls_back(request, reason_for_empty_stream()):
                    return text, calls
                request, attempt = replace(request, stream=False), attempt - 1
                continue
            except ModelError as exc:
                self.account.add(exc.usage)
                if cannot_stream(exc) and self._falls_back(request, str(exc)):
                    request, attempt = replace(request, stream=False), attempt - 1
                    continue
                if self._produced_in_call or not exc.retryable or attempt > session.limits.retries:
                    if exc.kind == "timeout" and isinstance(exc.__cause__, _Silent):
                        raise AgentError(str(exc), kind="timeout") from None
                    failed = f"agent '{session.name}': {explain(exc, session.model)}"
                    raise AgentError(failed, kind="model", detail=str(exc)) from None
                delay = (
                    exc.retry_after
                    if exc.retry_after is not None
                    else session.limits.retry_backoff * 2 ** (attempt - 1)
                )
                await anyio.sleep(min(delay, 30.0))

    def _falls_back(self, request: ModelRequest, why: str) -> bool:
        """Whether a streamed call that failed for ``why`` is repeated, once, unstreamed."""
        if not request.stream or self._produced_in_call or not self.session.limits.stream_fallback:
            return False
        message = f"agent '{self.session.name}': {why}; asking again without streaming"
        self.bus.emit(LogEvent, level="warn", message=message, source="streaming")
        return True

    async def _stream_once(self, request: ModelRequest) -> tuple[str, list[ToolCallRequest]]:
        limits = self.session.limits
        self._produced_in_call = False
        self._call_usage = False
        self.account.llm_calls += 1
        round_text: list[str] = []
        calls: list[ToolCallRequest] = []
        iterator = self.session.client.stream(request).__aiter__()
        try:
            with anyio.CancelScope() as watchdog:
                await self._read(iterator, watchdog, round_text, calls)
        except ModelError:
            raise  # it carries what the failed call spent
        except BaseException:
            # Stopped by Tide (total timeout, cancel, Ctrl-C) mid-call: what was sent and
            # received still counts.
            self._estimate_stopped(request, round_text)
            raise
        if watchdog.cancelled_caught:
            self._estimate_stopped(request, round_text)
            what = "between chunks" if self._produced_in_call else "for the first token"
            waited = limits.idle_timeout if self._produced_in_call else limits.first_token_timeout
            message = f"agent '{self.session.name}': the model sent nothing {what} for {waited:g} s"
            if self._produced_in_call:
                raise AgentError(message, kind="timeout")
            # Nothing was shown yet: like any failure before the first token, it may be retried.
            raise ModelError(message, kind="timeout", retryable=True) from _Silent()
        return "".join(round_text), calls

    def _estimate_stopped(self, request: ModelRequest, round_text: list[str]) -> None:
        if not self._call_usage:
            self.account.add_estimate(self.session.client, request.messages, round_text)

    async def _read(
        self,
        iterator: Any,
        watchdog: anyio.CancelScope,
        round_text: list[str],
        calls: list[ToolCallRequest],
    ) -> None:
        """The call's items into the turn. The ``watchdog``'s deadline moves with each item: a
        scope per chunk would cost more than everything else Tide does with the chunk."""
        limits = self.session.limits
        call_started = time.monotonic()
        try:
            while True:
                waited = (
                    limits.idle_timeout if self._produced_in_call else limits.first_token_timeout
                )
                watchdog.deadline = anyio.current_time() + waited
                try:
                    item = await iterator.__anext__()
                except StopAsyncIteration:
                    break
                if isinstance(item, RequestSent):
                    call_started = self.account.request_sent(item)
                    continue
                self._take(item, round_text, calls, call_started)
        finally:
            aclose: Callable[[], Awaitable[None]] | None = getattr(iterator, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()

    def _take(
        self,
        item: object,
        round_text: list[str],
        calls: list[ToolCallRequest],
        call_started: float,
    ) -> None:
        """One item of the model's stream, into the turn's text, tool calls and account."""
        if isinstance(item, TextDelta):
            if not item.text:
                return
            if not round_text and len(self.buffer):
                # Text of a later round (after tools, or a retry) starts a new paragraph.
                self._append("\n\n")
            if self.account.ttft_ms is None:
                now = time.monotonic()
                self.account.ttft_ms = (now - call_started) * 1000
                self.account.first_visible_token_ms = (now - self.account.started) * 1000
            self._produced_in_call = True
            round_text.append(item.text)
            self._append(item.text)
        elif isinstance(item, ToolCallRequest):
            self._produced_in_call = True
            calls.append(item)
        elif isinstance(item, Usage):
            self._call_usage = True
            self.account.add(item)
            if item.note:
                self.bus.emit(
                    LogEvent,
                    level="warn",
                    message=f"agent '{self.session.name}': {item.note}",
                    source="accounting",
                )
        elif isinstance(item, Finish):
            self.account.finish_reason = item.reason
            self.account.streamed = item.streamed
            self.account.cached = self.account.cached or item.cached

    def _append(self, text: str) -> None:
        offset = self.buffer.append(text)
        self.account.chunks += 1
        self.bus.dispatch(
            AgentStreamChunkEvent.from_buffer(
                self.buffer,
                text,
                offset,
                run_id=self.bus.run_id,
                seq=self.bus.next_seq(),
                agent=self.session.name,
                turn=self.number,
            )
        )

    # -- tools ------------------------------------------------------------------------------------

    def _emit_tool(self, call: ToolCallRequest, stage: Stage, **fields: Any) -> None:
        self.bus.emit(
            ToolCallEvent,
            agent=self.session.name,
            turn=self.number,
            tool=call.name,
            call_id=call.id,
            stage=stage,
            args=call.arguments,
            **fields,
        )

    async def _run_tool(self, call: ToolCallRequest) -> dict[str, Any]:
        self._emit_tool(call, "started")
        started = time.monotonic()
        tool = self.tools.get(call.name)
        try:
            if tool is None:
                raise AgentError(
                    f"no tool named '{call.name}' (available: {', '.join(self.tools) or 'none'})"
                )
            result = await self.services.invoke_tool(tool, call.arguments)
        except TideError as exc:
            duration = (time.monotonic() - started) * 1000
            self._emit_tool(call, "failed", error=exc.message, duration_ms=duration)
            self.tool_log.append({"tool": call.name, "args": call.arguments, "error": exc.message})
            return {"role": "tool", "tool_call_id": call.id, "content": f"Error: {exc.message}"}
        duration = (time.monotonic() - started) * 1000
        self._emit_tool(call, "completed", result=result, duration_ms=duration)
        self.tool_log.append({"tool": call.name, "args": call.arguments, "result": result})
        if tool is not None and tool.builtin and tool.name == "done":
            reason = call.arguments.get("reason")
            self.done_reason = str(reason) if reason else "Task completed"
        content = (
            result
            if isinstance(result, str)
            else json.dumps(result, ensure_ascii=False, default=str)
        )
        return {"role": "tool", "tool_call_id": call.id, "content": content}

    # -- accounting ---------------------------------------------------------------------------------

    def _emit_cost(self) -> None:
        cost = self.bus.emit(
            CostEvent,
            agent=self.session.name,
            turn=self.number,
            model=self.session.model,
            provider=self.session.client.provider,
            **self.account.cost_fields(),
        )
        self.services.note_usage(cost)

    def _fail(self, error: TideError) -> TideError:
        partial = self.buffer.text()
        self.services.note_partial(partial)
        self._emit_cost()
        self.bus.emit(
            AgentTurnEvent,
            agent=self.session.name,
            turn=self.number,
            stage="failed",
            model=self.session.model,
            duration_ms=(time.monotonic() - self.account.started) * 1000,
            first_visible_token_ms=self.account.first_visible_token_ms,
            text=partial,
            error=error.info(),
        )
        if isinstance(error, AgentError):
            error.partial_text = partial
        return error


async def run_turn(
    session: AgentSession,
    services: TurnServices,
    tools: list[ToolDecl],
    message: str | None,
    options: dict[str, Any],
) -> TurnResult:
    session.turns += 1
    return await _Turn(session, services, tools, message, options).run()
