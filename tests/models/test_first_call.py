"""A process's first model call finds LiteLLM ready: nothing left to import or build between
its request and its first chunk."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, sys
from runtime.models._dspy import ensure_configured
from runtime.models._first_call import FIRST_CALL_MODULES, STREAM_TYPE_MODULES
ensure_configured()
from litellm.types.utils import Delta, ModelResponse, ModelResponseStream, StreamingChoices, Usage
from openai.types.chat.chat_completion_chunk import ChatCompletionChunk
print(json.dumps({
    "imported": [name for name in FIRST_CALL_MODULES if name in sys.modules],
    "expected": list(FIRST_CALL_MODULES),
    "built": [t.__name__ for t in (Delta, ModelResponse, ModelResponseStream, StreamingChoices,
              Usage, ChatCompletionChunk) if t.__pydantic_complete__],
}))
"""


def test_configuring_prepares_what_the_first_call_needs() -> None:
    # A fresh process: in this one, earlier tests' calls have done it all already.
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["imported"] == report["expected"]
    assert report["built"] == [
        "Delta",
        "ModelResponse",
        "ModelResponseStream",
        "StreamingChoices",
        "Usage",
        "ChatCompletionChunk",
    ]
