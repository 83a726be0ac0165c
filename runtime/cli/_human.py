"""Answering ``Human.*`` questions at the terminal."""

from __future__ import annotations

import json
import sys
from typing import Any

from runtime.human import HumanResponder
from runtime.human_fields import InvalidAnswer, check_answer, option_value


class TerminalHuman(HumanResponder):
    @property
    def interactive(self) -> bool:
        return sys.stdin.isatty()

    def ask(self, op: str, message: str, options: dict[str, Any]) -> Any:
        if not sys.stdin.isatty():
            return super().ask(op, message, options)
        if op == "multiple":
            return self._ask_fields(message, options)
        if op == "approve":
            answer = input(f"\n? {message} [y/N] ").strip().lower()
            return answer in ("y", "yes")
        if op == "review":
            answer = input(f"\n? {message} (approve/reject) ").strip().lower()
            feedback = input("  feedback (optional): ").strip()
            return {
                "decision": "Approve" if answer.startswith("a") else "Reject",
                "feedback": feedback,
            }
        if op == "select":
            choices = [str(o) for o in options.get("options", [])]
            for index, choice in enumerate(choices, start=1):
                print(f"  {index}. {choice}")
            picked = input(f"\n? {message} [1-{len(choices)}] ").strip()
            return (
                choices[int(picked) - 1]
                if picked.isdigit() and 0 < int(picked) <= len(choices)
                else None
            )
        if op == "escalate":
            print(f"\n! escalated: {message}", file=sys.stderr)
            return {"escalated": True}
        return input(f"\n? {message} ")

    def _ask_fields(self, message: str, request: dict[str, Any]) -> dict[str, Any]:
        """Each field in turn, then the whole answer checked as ``tide runs answer`` checks
        it: a field left empty takes its default, a required one is asked again."""
        fields: list[dict[str, Any]] = request.get("fields") or []
        print(f"\n? {message}")
        answer: dict[str, Any] = {}
        for index, field in enumerate(fields, start=1):
            while True:
                value = _ask_field(field, f"{index}/{len(fields)}")
                if value is not None or not field["required"] or field["default"] is not None:
                    break
                print("  (required)")
            if value is not None:
                answer[field["id"]] = value
        try:
            return dict(check_answer(request, answer))
        except InvalidAnswer as exc:  # every field was asked until it fit: not expected
            print(f"  {exc.message}", file=sys.stderr)
            return answer


def _ask_field(field: dict[str, Any], step: str) -> Any:
    """One field's answer, or None when left empty (or not one of its options)."""
    kind = field["type"]
    label = field["message"] or field["label"]
    default = field.get("default")
    shown = f" [{json.dumps(default, ensure_ascii=False)}]" if default is not None else ""
    if kind == "approve":
        text = input(f"  {step} {label} [y/n]{shown} ").strip().lower()
        return None if not text else text in ("y", "yes", "true")
    if kind == "review":
        text = input(f"  {step} {label} (approve/edit/reject){shown} ").strip().lower()
        if not text:
            return None
        decision = {"a": "Approve", "e": "Edit", "r": "Reject"}.get(text[:1], "Approve")
        feedback = input("    feedback (optional): ").strip()
        return {"decision": decision, "feedback": feedback}
    if kind == "select":
        options = field.get("options") or []
        values = [option_value(o) for o in options]
        print(f"  {step} {label}")
        for number, (option, value) in enumerate(zip(options, values, strict=True), start=1):
            shown = option.get("label", value) if isinstance(option, dict) else value
            print(f"    {number}. {shown}")
        several = field.get("mode") == "multiple"
        what = "numbers, comma-separated" if several else f"1-{len(values)}"
        text = input(f"  [{what}]{shown} ").strip()
        picked = [int(p) for p in text.replace(",", " ").split() if p.isdigit()]
        chosen = [values[p - 1] for p in picked if 0 < p <= len(values)]
        if not chosen:
            return None
        return chosen if several else chosen[0]
    text = input(f"  {step} {label}{shown} ")
    return text if text else None
