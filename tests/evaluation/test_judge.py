"""llm_judge and `should semantically satisfy` ask a real (scripted) model for a verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.api import Runtime
from runtime.evaluation.config import EvalCase, EvaluatorConfig
from runtime.evaluation.evaluators import CaseRun, score
from runtime.evaluation.judge import judge
from runtime.model_server import Reply, Script
from runtime.run import RunResult

pytestmark = pytest.mark.anyio


async def test_judge_reads_the_models_verdict() -> None:
    async with Runtime() as runtime:
        server = await runtime.scripted_server()
        server.set_script(
            Script(
                replies=[
                    Reply(match="Hello", json={"ok": True, "reason": "it greets"}),
                    Reply(json={"ok": False, "reason": "rude"}),
                ]
            )
        )
        good = await judge(runtime, "scripted/judge", "is polite", "Hello Ada")
        bad = await judge(runtime, "scripted/judge", "is polite", "Go away", expected="Hi")
    assert (good.ok, good.reason) == (True, "it greets")
    assert (bad.ok, bad.reason) == (False, "rude")
    assert good.tokens > 0


async def test_llm_judge_evaluator_uses_its_model() -> None:
    seen: list[tuple[str, object, object, str | None]] = []

    async def fake(
        rubric: str, output: object, expected: object, model: str | None
    ) -> tuple[bool, str]:
        seen.append((rubric, output, expected, model))
        return False, "not polite"

    config = EvaluatorConfig(
        "llm_judge", {"rubric": "polite", "model": "openai:gpt-4o", "include_expected": True}
    )
    case = EvalCase("c", {}, expected_output={"reply": "Hi"})
    result = RunResult(run_id="r", status="completed", output={"reply": "Go away"})
    verdict = await score(config, CaseRun(case, result), fake)
    assert (verdict.passed, verdict.detail) == (False, "not polite")
    assert seen == [("polite", {"reply": "Go away"}, {"reply": "Hi"}, "openai:gpt-4o")]


def test_semantic_step_with_real_models(tmp_path: Path) -> None:
    from tests.testing.helpers import by_name, run

    path = tmp_path / "semantic.tac"
    path.write_text(
        """
Procedure { output = { reply = field.string{} }, function() return { reply = "Hello Ada" } end }
Specification([[
Feature: judged
  Scenario: polite
    Then the output reply should semantically satisfy "greets Ada"
]])
"""
    )
    script = tmp_path / "script.json"
    script.write_text('{"replies": [{"json": {"ok": false, "reason": "no greeting"}}]}')
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIDE_SCRIPTED_SCRIPT", str(script))
        report = run(path, real=True, model="scripted/judge")
    failure = by_name(report)["polite"].first_failure
    assert failure is not None and failure.failure is not None
    assert failure.failure.message == "output 'reply' does not satisfy \"greets Ada\": no greeting"


async def test_a_judge_that_cannot_run_is_a_failed_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    async with Runtime() as runtime:
        verdict = await judge(runtime, "anthropic/claude-3-haiku", "is polite", "Hello")
    assert not verdict.ok
    assert (
        verdict.reason.startswith("the judge could not run:")
        and "ANTHROPIC_API_KEY" in verdict.reason
    )
