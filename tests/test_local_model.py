"""A procedure on the real local model, end to end through Tide (needs `scripts/install-local`)."""

from __future__ import annotations

import pytest

from runtime import MemoryHandler, Runtime
from runtime.models.local_server import local_model_available

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.local_model,
    pytest.mark.skipif(not local_model_available(), reason="the local model is not installed"),
]

PROCEDURE = """
teller = Agent { model = "openai/gpt-4o-mini", system_prompt = "You tell tiny stories.", max_tokens = 40 }
Procedure {
  output = { story = field.string{ required = true } },
  function(input) return { story = teller("Tell a two-sentence story about the sea.").output } end
}
"""


async def test_a_procedure_streams_from_the_local_model() -> None:
    events = MemoryHandler()
    async with Runtime() as runtime:
        result = await runtime.run(PROCEDURE, handlers=[events], model="local/smollm2")
    assert result.ok, result.error
    chunks = events.of_type("agent_stream_chunk")
    assert len(chunks) > 3
    story = result.output["story"]
    assert story and "".join(c.chunk_text for c in chunks) == story  # type: ignore[union-attr]
    cost = events.of_type("cost")[0]
    assert cost.provider == "local"  # type: ignore[union-attr]
    assert cost.completion_tokens > 0 and cost.prompt_tokens > 0  # type: ignore[union-attr]
    assert cost.cost_usd == 0.0  # type: ignore[union-attr]
    assert cost.time_to_first_token_ms is not None  # type: ignore[union-attr]
