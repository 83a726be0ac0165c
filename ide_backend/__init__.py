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

# ruff: noqa: F401
# The imports under TYPE_CHECKING are the public names (see runtime.lazy).

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.lazy import lazy_exports

if TYPE_CHECKING:
    from ide_backend.app import TideApp, create_app
    from ide_backend.responses import sse_response, ui_message_stream_response
    from ide_backend.settings import Settings

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__, globals())
