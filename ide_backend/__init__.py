"""Tide's IDE server: serves a workspace of procedures, runs them, relays their events.

``tide ide`` starts it (``ide_backend.cli``). In your own application,
``create_app(workspace=..., api_only=False)`` is the ASGI app to serve or mount (see
``ide_backend.app``), and ``sse_response`` / ``ui_message_stream_response`` stream a run from an
endpoint of your own (see ``ide_backend.responses``). Everything is under ``/api/``: ``files``
(the workspace), ``validate`` and ``models`` (procedures), ``runs`` (start, list, cancel),
``runs/{id}/events`` (server-sent events), ``runs/ui-stream`` and ``runs/{id}/ui-stream`` (the
AI SDK's UI message stream) and ``stats``; the built frontend is served at ``/``. Runs are
recorded in the workspace's execution store (``runtime.store``).

Names are imported on first use, so that the ``tide`` command does not load the server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ide_backend.app import TideApp, create_app
    from ide_backend.responses import sse_response, ui_message_stream_response
    from ide_backend.settings import Settings

_HOMES = {
    "Settings": "ide_backend.settings",
    "TideApp": "ide_backend.app",
    "create_app": "ide_backend.app",
    "sse_response": "ide_backend.responses",
    "ui_message_stream_response": "ide_backend.responses",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'ide_backend' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = ["Settings", "TideApp", "create_app", "sse_response", "ui_message_stream_response"]
