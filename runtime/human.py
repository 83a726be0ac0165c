"""``Human.approve/input/review/select/multiple/notify/escalate``: questions a procedure asks a
person (``Human.multiple``, alias ``Human.inputs``, asks several fields in one request).

In mock mode the answers are the stand-ins Tactus's test mode gives (approve → true, input →
"test input", review → approved, select → its default, else its first option), unless ``Mocks { Human = {...} }`` says otherwise. Otherwise a
``HumanResponder`` subclass answers (the CLI asks at the terminal).
"""

from __future__ import annotations

from typing import Any

from runtime.errors import ConfigurationError
from runtime.human_fields import as_list, field_defaults, mock_answer, option_value, parse_fields

# ``Human.multiple`` and its older name ``Human.inputs``: one request of kind ``multiple``.
MULTIPLE_OPS = ("multiple", "inputs")

_MOCK_ANSWERS: dict[str, Any] = {
    "approve": True,
    "input": "test input",
    "review": {"decision": "Approve"},
    "escalate": {"escalated": True},
}


def request_message(args: list[Any]) -> str:
    if not args:
        return ""
    first = args[0]
    if isinstance(first, dict):
        return str(first.get("message", ""))
    return str(first)


def _mock_selection(options: dict[str, Any]) -> Any:
    """A mocked ``Human.select``: its default, else its first option (a list of one when it
    allows several)."""
    if options.get("default") is not None:
        return options["default"]
    choices = as_list(options.get("options"))
    if not choices:
        return None
    first = option_value(choices[0])
    return [first] if options.get("mode") == "multiple" else first


class HumanResponder:
    """Answers ``Human.*``. ``interactive``: a person can be asked now (``ask`` blocks until
    they answer); otherwise a durable run waits for its answer from outside."""

    def __init__(self, *, mock: bool = False, answers: dict[str, Any] | None = None) -> None:
        self.mock = mock
        self.answers = dict(answers or {})

    @property
    def interactive(self) -> bool:
        return False

    def answers_itself(self, op: str) -> bool:
        """Whether ``respond`` answers ``Human.<op>`` without a person: mocks, fixed answers."""
        if op in MULTIPLE_OPS:
            return self.mock or any(key in self.answers for key in MULTIPLE_OPS)
        return self.mock or op in self.answers

    def respond(self, op: str, args: list[Any]) -> Any:
        """The answer to ``Human.<op>(*args)``. A ``multiple`` is answered whole by
        ``answers["multiple"]``, else field by field (``answers[<id>]``, else stand-ins)."""
        if op == "notify":
            return None
        if op in MULTIPLE_OPS:
            fields = parse_fields(f"Human.{op}", args[0] if args else None)
            for key in MULTIPLE_OPS:
                if key in self.answers:
                    return self.answers[key]
            if self.mock:
                return mock_answer(fields, self.answers)
            return self.ask("multiple", "", {"fields": fields, "default": field_defaults(fields)})
        if op in self.answers:
            return self.answers[op]
        if self.mock:
            if op == "select":
                return _mock_selection(args[0] if args and isinstance(args[0], dict) else {})
            return _MOCK_ANSWERS.get(op)
        return self.ask(
            op, request_message(args), args[0] if args and isinstance(args[0], dict) else {}
        )

    def ask(self, op: str, message: str, options: dict[str, Any]) -> Any:
        default = options.get("default")
        if default is not None:
            return default
        raise ConfigurationError(
            f"Human.{op} needs a person to answer {message!r}, and this run can neither ask "
            "at a terminal nor wait for an answer: it keeps no store to wait in",
            hint="run it with a store (tide run and the IDE keep one; Runtime(store=...) when "
            "embedding), at an interactive terminal, with a default, or with --mock",
        )
