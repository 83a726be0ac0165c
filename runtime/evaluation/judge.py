"""An LLM judge: does a value satisfy a rubric? Used by the ``llm_judge`` evaluator and the
``should semantically satisfy`` step.

The judge is itself a small procedure run by the same runtime, so its call is streamed,
costed and checked for credentials like any agent's.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runtime.errors import TideError
from runtime.source import ProcedureSource

if TYPE_CHECKING:
    from runtime.api import Runtime

DEFAULT_JUDGE_MODEL = "openai/gpt-4o-mini"
_JUDGE = """
judge = Agent {
  system_prompt = [[You are a strict evaluator. Decide whether the OUTPUT satisfies the RUBRIC
(compare with EXPECTED when it is given). Answer with ok = true or false and a one-sentence reason.]],
  temperature = 0,
  output = { ok = field.boolean{ required = true }, reason = field.string{} },
}

Procedure {
  input = { payload = field.string{ required = true } },
  output = { ok = field.boolean{ required = true }, reason = field.string{} },
  function(input)
    return judge(input.payload).output
  end
}
"""


@dataclass
class Verdict:
    ok: bool
    reason: str
    cost_usd: float = 0.0
    tokens: int = 0


def judge_model(override: str | None = None) -> str:
    """``--model``, else ``TIDE_JUDGE_MODEL`` (or Tactus's ``TACTUS_SEMANTIC_ASSERT_MODEL``)."""
    return (
        override
        or os.environ.get("TIDE_JUDGE_MODEL")
        or os.environ.get("TACTUS_SEMANTIC_ASSERT_MODEL")
        or DEFAULT_JUDGE_MODEL
    )


async def judge(
    runtime: Runtime, model: str, rubric: str, output: Any, expected: Any = None
) -> Verdict:
    payload: dict[str, Any] = {"rubric": rubric, "output": output}
    if expected is not None:
        payload["expected"] = expected
    source = ProcedureSource.from_text(_JUDGE, "<judge>")
    try:
        result = await runtime.run(
            source, {"payload": json.dumps(payload, ensure_ascii=False, default=str)}, model=model
        )
    except TideError as exc:  # e.g. the judge's model has no credentials here
        return Verdict(False, f"the judge could not run: {exc.message}")
    cost, tokens = result.totals.cost_usd, result.totals.total_tokens
    if not result.ok or not isinstance(result.output, dict):
        reason = result.error.message if result.error else "the judge gave no verdict"
        return Verdict(False, f"the judge failed: {reason}", cost, tokens)
    return Verdict(
        bool(result.output.get("ok")), str(result.output.get("reason") or ""), cost, tokens
    )
