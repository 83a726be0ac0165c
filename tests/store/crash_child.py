"""Run by test_crash: a real run recorded by the store handler, slow enough to be killed
mid-stream. Prints ``<seq> <monotonic time>`` once each event has been handed to the store."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import anyio

from runtime.api import Runtime
from runtime.events import Event
from runtime.model_server import Reply, Script
from runtime.store import SQLiteStore, StoreHandler

PROCEDURE = """
writer = Agent { model = "scripted/default", system_prompt = "You write at length." }
Procedure {
  function(input)
    return { text = writer("Write a long essay").message }
  end
}
"""


class Reporting:
    def __init__(self, inner: StoreHandler) -> None:
        self.inner = inner

    def log(self, event: Event) -> None:
        self.inner.log(event)
        print(event.seq, time.monotonic(), flush=True)


async def main(workspace: Path) -> None:
    store = SQLiteStore.for_workspace(workspace)
    async with Runtime() as runtime:
        server = await runtime.scripted_server()
        server.set_script(Script(replies=[Reply(tokens=5000, tokens_per_second=400)]))
        source = workspace / "essay.tac"
        source.write_text(PROCEDURE)
        await runtime.run(source, handlers=[Reporting(StoreHandler(store, model="scripted/x"))])
    store.close()


if __name__ == "__main__":
    anyio.run(main, Path(sys.argv[1]))
