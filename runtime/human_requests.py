"""``Human.approve/input/select/review/multiple`` in a run: a ``human_request`` event, then an
answer (for ``multiple``, one answer: an object keyed by its fields).

The answer comes from the run's mocks, from a person at the terminal (``tide run`` at an
interactive one), or, in a durable run (one with a store) with nobody there to ask, from later:
the run *parks*. It stops its Lua thread and ends as ``waiting``, holding no sandbox, thread or
process, until someone answers (``tide runs answer``, the IDE, ``Runtime.answer``) and the run
is resumed. Either way the answer is journaled, so a resumed run never asks twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import anyio.from_thread

from runtime.events import HumanRequestEvent, HumanResponseEvent
from runtime.human import MULTIPLE_OPS, request_message
from runtime.human_fields import field_defaults, parse_fields
from runtime.human_fields import request_message as fields_message
from runtime.sandbox import SandboxAbort
from runtime.store.journal import request_id_for

if TYPE_CHECKING:
    from runtime.bus import EventBus
    from runtime.human import HumanResponder
    from runtime.journal import Journal

HUMAN_KINDS = ("approve", "input", "select", "review", *MULTIPLE_OPS)


class AskingRun(Protocol):
    """What asking a person needs of its run (a ``Run``)."""

    run_id: str
    bus: EventBus
    human_responder: HumanResponder
    journal: Journal | None
    pending: list[dict[str, Any]]

    def park(self) -> None: ...


def request_fields(op: str, args: list[Any]) -> dict[str, Any]:
    """What a ``human_request`` says: its kind, message, choices, default, timeout and (for
    ``multiple``) its fields."""
    options = _options(args)
    timeout = options.get("timeout")
    timeout_s = float(timeout) if isinstance(timeout, (int, float)) else None
    if op in MULTIPLE_OPS:
        fields = parse_fields(f"Human.{op}", args[0] if args else None)
        return {
            "kind": "multiple",
            "message": fields_message(fields, options.get("message")),
            "options": [],
            "default": field_defaults(fields),
            "timeout_s": timeout_s,
            "fields": fields,
        }
    choices = options.get("options") or []
    return {
        "kind": op,
        "message": request_message(args),
        "options": list(choices.values()) if isinstance(choices, dict) else list(choices),
        "default": options.get("default"),
        "timeout_s": timeout_s,
        "fields": [],
    }


def ask_person(run: AskingRun, op: str, args: list[Any]) -> Any:
    """Called on the run's Lua thread."""
    responder = run.human_responder
    if op not in HUMAN_KINDS:
        return responder.respond(op, args)
    request = request_fields(op, args)
    kind = request["kind"]
    value = _ask(run, op, args, request)
    if kind == "multiple" and not isinstance(value, dict):
        return {}  # an answer that is not an object answers no field
    return value


def _ask(run: AskingRun, op: str, args: list[Any], request: dict[str, Any]) -> Any:
    responder = run.human_responder
    kind = request["kind"]
    journal = run.journal
    # A single question's journal key is what it was before requests had fields.
    key = request if request["fields"] else {k: v for k, v in request.items() if k != "fields"}
    slot = journal.begin("human", kind, key) if journal is not None else None
    if slot is not None and slot.entry is not None:
        assert journal is not None
        return journal.answered(slot)
    position = slot.position if slot is not None else run.bus.last_seq + 1
    request_id = request_id_for(run.run_id, position)
    event = _emit(run, HumanRequestEvent, request_id=request_id, **request)
    # What ``ask`` is told: the call's options, and a multiple request's fields and default.
    asked = {**_options(args), **request} if kind == "multiple" else _options(args)
    if responder.answers_itself(op):
        value, answered_by = responder.respond(op, args), "mock"
    elif responder.interactive:
        value, answered_by = responder.ask(kind, request["message"], asked), "person"
    elif journal is not None:
        pending = {"request_id": request_id, **request, "created_at": event.ts.isoformat()}
        run.pending.append(pending)
        run.park()
        raise SandboxAbort("waiting")
    else:
        value, answered_by = responder.ask(kind, request["message"], asked), "default"
    _emit(run, HumanResponseEvent, request_id=request_id, value=value, answered_by=answered_by)
    if journal is not None and slot is not None:
        journal.record_from_thread(slot, value, extra={"answered_by": answered_by})
    return value


def _options(args: list[Any]) -> dict[str, Any]:
    return args[0] if args and isinstance(args[0], dict) else {}


def _emit(run: AskingRun, event_type: Any, /, **fields: Any) -> Any:
    # Built here rather than by ``EventBus.emit``, whose own first parameter is named ``kind``.
    def emit() -> Any:
        event = event_type(run_id=run.run_id, seq=run.bus.next_seq(), **fields)
        run.bus.dispatch(event)
        return event

    return anyio.from_thread.run_sync(emit)
