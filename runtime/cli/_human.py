"""Answering ``Human.*`` questions at the terminal."""

from __future__ import annotations

import sys
from typing import Any

from runtime.human import HumanResponder


class TerminalHuman(HumanResponder):
    @property
    def interactive(self) -> bool:
        return sys.stdin.isatty()

    def ask(self, op: str, message: str, options: dict[str, Any]) -> Any:
        if not sys.stdin.isatty():
            return super().ask(op, message, options)
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
