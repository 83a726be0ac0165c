"""``Human.approve/input/review/select/multiple/notify/escalate``: questions a procedure asks a
person (``Human.multiple``, alias ``Human.inputs``, asks several at once).

In mock mode the answers are the stand-ins Tactus's test mode gives (approve → true, input →
"test input", review → approved, select → its default, else its first option), unless ``Mocks { Human = {...} }`` says otherwise. Otherwise a
``HumanResponder`` subclass answers (the CLI asks at the terminal).
"""

from __future__ import annotations

from typing import Any

from runtime.errors import ConfigurationError
from runtime.library.human_fields import AskOne, answer_each, items_of

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


def option_value(option: Any) -> Any:
    """What choosing an option answers: the option itself, or a table's ``value`` (else its
    ``label``)."""
    if isinstance(option, dict):
        return option.get("value", option.get("label"))
    return option


def _mock_selection(options: dict[str, Any]) -> Any:
    """A mocked ``Human.select``: its default, else its first option (a list of one when it
    allows several)."""
    if options.get("default") is not None:
        return options["default"]
    choices = options.get("options")
    if isinstance(choices, dict):  # a Lua array arrives as a table keyed 1, 2, ...
        choices = [choices[key] for key in sorted(choices)]
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

    def respond(self, op: str, args: list[Any], ask_one: AskOne | None = None) -> Any:
        """The answer to ``Human.<op>(*args)``; ``ask_one`` asks each item of a ``multiple``."""
        if op == "notify":
            return None
        if op in ("inputs", "multiple"):
            items = items_of(f"Human.{op}", args[0] if args else None)
            if op in self.answers or "multiple" in self.answers:
                return self.answers.get(op, self.answers.get("multiple"))
            return answer_each(items, self.answers, self.mock, ask_one or self.respond)
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
