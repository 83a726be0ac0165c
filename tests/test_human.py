"""``Human.*`` under ``--mock``: the stand-in answers a procedure gets without a person."""

from __future__ import annotations

import pytest

from tests.helpers import run

pytestmark = pytest.mark.anyio

SELECT = """
Procedure {
  function(input)
    return {
      first = Human.select({ message = "Where?", options = { "staging", "production" } }),
      default = Human.select({ message = "Where?", options = { "a", "b" }, default = "b" }),
      tables = Human.select({ message = "Which?", options = {
        { label = "Small", value = "s" }, { label = "Large", value = "l" } } }),
      several = Human.select({ message = "Which?", options = { "x", "y" }, mode = "multiple" }),
      none = Human.select({ message = "Nothing to pick", options = {} }),
    }
  end
}
"""


async def test_a_mocked_select_answers_its_default_else_its_first_option() -> None:
    result, _ = await run(SELECT, mock=True)
    assert result.status == "completed", result.error
    assert result.output == {
        "first": "staging",
        "default": "b",
        "tables": "s",
        "several": ["x"],
    }
