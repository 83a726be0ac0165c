"""The runtime's own work around a run: where it loads the model libraries, and when not."""

from __future__ import annotations

from typing import Any

from tests.helpers import fresh_process_report

PROBE = """
import json, sys, threading
import anyio
from runtime.models import _dspy

on_main_thread = []
original = _dspy._import_and_set_up


def recording():
    on_main_thread.append(threading.current_thread() is threading.main_thread())
    original()


_dspy._import_and_set_up = recording
from runtime import MemoryHandler, Runtime, TideError


async def main():
    async with Runtime() as runtime:
        before = sorted({"litellm", "dspy"} & set(sys.modules))
        await runtime.run("procedures/hello.tac", handlers=[MemoryHandler()], mock=True)
        after_mock = sorted({"litellm", "dspy"} & set(sys.modules))
        try:
            result = await runtime.run(
                "procedures/hello.tac", handlers=[MemoryHandler()], model=sys.argv[1]
            )
            status = result.status
        except TideError as exc:
            status = type(exc).__name__
        print(json.dumps({"before": before, "after_mock": after_mock,
                          "status": status, "on_main_thread": on_main_thread}))


anyio.run(main)
"""


def probe(model: str) -> dict[str, Any]:
    return fresh_process_report(PROBE, model, unset=["OPENAI_API_KEY"])


def test_model_libraries_load_once_off_the_event_loop_and_not_for_mocks() -> None:
    report = probe("scripted/default")
    assert report["before"] == report["after_mock"] == []
    assert report["status"] == "completed"
    # Imported in a worker thread, so that the event loop (an IDE's other streams and
    # requests) goes on meanwhile.
    assert report["on_main_thread"] == [False]


def test_checking_a_providers_credentials_loads_them_off_the_event_loop() -> None:
    # No OPENAI_API_KEY: LiteLLM's check refuses the run before any call.
    report = probe("openai/gpt-4o-mini")
    assert report["status"] == "ConfigurationError"
    assert report["on_main_thread"] == [False]
