"""Setting up DSPy and LiteLLM in a fresh process: imported without full collections, frozen,
and ready for the first call: nothing left to import or build between its request and its
first chunk."""

from __future__ import annotations

from typing import Any

from tests.helpers import fresh_process_report

PROBE = """
import gc, json, sys
from runtime.models._dspy import ensure_configured
from runtime.models._first_call import FIRST_CALL_MODULES
ensure_configured()
from litellm.types.utils import Delta, ModelResponse, ModelResponseStream, StreamingChoices, Usage
from openai.types.chat.chat_completion_chunk import ChatCompletionChunk
print(json.dumps({
    "imported": [name for name in FIRST_CALL_MODULES if name in sys.modules],
    "expected": list(FIRST_CALL_MODULES),
    "built": [t.__name__ for t in (Delta, ModelResponse, ModelResponseStream, StreamingChoices,
              Usage, ChatCompletionChunk) if t.__pydantic_complete__],
    "full_collections": gc.get_stats()[2]["collections"],
    "collecting": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
}))
"""


def configure_in_a_fresh_process() -> dict[str, Any]:
    return fresh_process_report(PROBE)


def test_importing_runs_no_full_collection_and_freezes_what_it_made() -> None:
    report = configure_in_a_fresh_process()
    assert report["full_collections"] == 0
    assert report["collecting"] is True
    assert report["frozen"] > 100_000


def test_configuring_prepares_what_the_first_call_needs() -> None:
    report = configure_in_a_fresh_process()
    assert report["imported"] == report["expected"]
    assert report["built"] == [
        "Delta",
        "ModelResponse",
        "ModelResponseStream",
        "StreamingChoices",
        "Usage",
        "ChatCompletionChunk",
    ]
