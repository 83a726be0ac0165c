"""The real processes the durable-run tests kill and resume: a warm worker for the whole
session, a scripted model server for each module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.durable.procedures import SERVED_SCRIPT
from tests.durable.processes import ModelServer, Worker, model_server


@pytest.fixture(scope="session")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    started = Worker(tmp_path_factory.mktemp("sockets"))
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServer]:
    # 100 tokens a second: each writer call streams for about half a second.
    with model_server(tmp_path_factory.mktemp("model"), SERVED_SCRIPT, rate=100) as server:
        yield server
