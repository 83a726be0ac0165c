"""``Human.approve/input/review/select/notify/escalate``: questions a procedure asks a person.

In mock mode the answers are the stand-ins Tactus's test mode gives (approve → true, input →
"test input", review → approved), unless ``Mocks { Human = {...} }`` says otherwise. Otherwise a
``HumanResponder`` subclass answers (the CLI asks at the terminal).
"""

from __future__ import annotations

from typing import Any

from runtime.errors import ConfigurationError

_MOCK_ANSWERS: dict[str, Any] = {
    "approve": True,
    "input": "test input",
    "review": {"decision": "Approve"},
    "select": None,
    "escalate": {"escalated": True},
}


def _message(args: list[Any]) -> str:
    if not args:
        return ""
    first = args[0]
    if isinstance(first, dict):
        return str(first.get("message", ""))
    return str(first)


class HumanResponder:
    def __init__(self, *, mock: bool = False, answers: dict[str, Any] | None = None) -> None:
        self.mock = mock
        self.answers = dict(answers or {})

    def respond(self, op: str, args: list[Any]) -> Any:
        if op == "notify":
            return None
        if op in self.answers:
            return self.answers[op]
        if self.mock:
            return _MOCK_ANSWERS.get(op)
        return self.ask(op, _message(args), args[0] if args and isinstance(args[0], dict) else {})

    def ask(self, op: str, message: str, options: dict[str, Any]) -> Any:
        default = options.get("default")
        if default is not None:
            return default
        raise ConfigurationError(
            f"Human.{op} needs a person to answer: {message!r}",
            hint="run interactively in a terminal, give the answer a default, or use --mock",
        )
