"""Tactus's tactus.generate and tactus.text.extract modules, answered by mocks."""

from __future__ import annotations

import pytest

from tests.helpers import run

pytestmark = pytest.mark.anyio


async def test_an_extractor_that_never_gets_valid_fields_reports_why() -> None:
    text = """
local extract = require("tactus.text.extract")
Procedure {
  function(input)
    local reader = extract.LLMExtractor:new{
      name = "reader", fields = { age = "number", city = "string" }, prompt = "Find them.",
      max_retries = 1,
    }
    local lenient = require("tactus.text.extract.llm"):new{
      name = "lenient", fields = { age = "number", city = "string" }, prompt = "Find them.",
      strict = false,
    }
    return { strict = reader:extract("Ann, forty"), lenient = lenient("Ann, 40") }
  end
}
Mocks {
  reader = { temporal = { { message = "no idea" }, { message = '{"age": "forty"}' } } },
  lenient = { message = '{"age": 40}' },
}
"""
    result, _ = await run(text)
    assert result.status == "completed", result.error
    strict = result.output["strict"]
    assert strict["fields"] == {} and strict["retry_count"] == 1
    assert strict["raw_response"] == '{"age": "forty"}'
    assert "field 'age' must be a number" in strict["validation_errors"]
    assert "missing field 'city'" in strict["error"]
    assert result.output["lenient"]["fields"] == {"age": 40}


async def test_a_generator_gives_up_after_its_retries_and_keeps_the_last_answer() -> None:
    text = """
local LLMGenerator = require("tactus.generate.llm").LLMGenerator
Procedure {
  function(input)
    local g = LLMGenerator:new{
      name = "jsoner", output_format = "json", max_retries = 1,
      system_prompt = "You write JSON.", instructions = "Keep it short.",
      constraints = { "no nesting", "ascii only" },
    }
    return g:generate("A person, please.")
  end
}
Mocks { jsoner = { message = "{not json" } }
"""
    result, events = await run(text)
    assert result.status == "completed", result.error
    out = result.output
    assert out["output"] == "{not json" and out["retry_count"] == 2 and out["format"] == "json"
    assert "no acceptable answer after 2 attempts" in out["error"]
    turns = [e for e in events if e.type == "agent_turn" and e.stage == "started"]
    assert len(turns) == 2
