"""What the request handlers share for the server's lifetime."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from ide_backend.errors import ApiError

if TYPE_CHECKING:
    from ide_backend.catalog import Catalog
    from ide_backend.runs import RunManager
    from ide_backend.settings import Settings
    from ide_backend.validator import Validator
    from ide_backend.workspace import Workspace
    from runtime.api import Runtime
    from runtime.store import ExecutionStore


@dataclass
class Services:
    settings: Settings
    workspace: Workspace
    catalog: Catalog
    store: ExecutionStore
    runtime: Runtime
    manager: RunManager
    validator: Validator


def services(conn: HTTPConnection) -> Services:
    found: Services | None = getattr(conn.app.state, "services", None)
    if found is None:
        raise ApiError(
            503,
            "Tide's app is not started: its lifespan has not run. Mounted in another app, "
            "pass it on: Starlette(..., lifespan=tide.lifespan) or FastAPI(lifespan=tide.lifespan)",
            "not_started",
        )
    return found
