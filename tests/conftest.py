"""Shared set-up for the engine's tests: anyio runs async tests on asyncio."""

from __future__ import annotations

import os

# Read when litellm is first imported: otherwise it fetches its price list from the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# A warm worker the developer keeps running must not serve the tests' commands; the worker's
# own tests turn it back on.
os.environ["TIDE_WORKER"] = "off"

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
