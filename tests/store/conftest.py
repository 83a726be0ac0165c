from __future__ import annotations

import os

# Must be set before litellm is first imported, or it fetches its price list from the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
