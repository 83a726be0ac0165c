from __future__ import annotations

import pytest

from runtime.errors import ConfigurationError
from runtime.run_tags import check_tags, parse_tag_args
from tests.helpers import of_type, run

pytestmark = pytest.mark.anyio

HELLO = """
greeter = Agent { model = "openai/gpt-4o-mini", system_prompt = "Be brief." }
Mocks { greeter = { message = "Hi!" } }
Procedure { function(input) return { text = greeter("hello").output } end }
"""


def test_tag_options_parse_and_check() -> None:
    assert parse_tag_args(["team=search", "note=a=b", "empty="]) == {
        "team": "search",
        "note": "a=b",
        "empty": "",
    }
    assert check_tags({"n": 3, "ok": True}) == {"n": "3", "ok": "true"}
    for bad in (["novalue"], ["=x"], ['we"ird=1'], ["sp ace=1"]):
        with pytest.raises(ConfigurationError):
            parse_tag_args(bad)
    with pytest.raises(ConfigurationError, match="must be a string"):
        check_tags({"k": [1]})


async def test_tags_go_on_run_started() -> None:
    result, events = await run(HELLO, tags={"team": "search", "n": 1})
    assert result.ok
    (started,) = of_type(events, "run_started")
    assert started.tags == {"team": "search", "n": "1"}


async def test_bad_tags_stop_the_run_before_it_starts() -> None:
    with pytest.raises(ConfigurationError):
        await run(HELLO, tags={"bad key": "x"})
