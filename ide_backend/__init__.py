"""Tide's IDE server: serves a workspace of procedures, runs them, relays their events.

``tide ide`` starts it (``ide_backend.cli``); ``create_app(Settings(...))`` in
``ide_backend.app`` builds the Starlette application for embedding and tests, and
``ide_backend.server.running_server`` serves it inside an event loop. Everything is under
``/api/``: ``files`` (the workspace), ``validate`` and ``models`` (procedures), ``runs`` (start,
list, cancel), ``runs/{id}/events`` (server-sent events) and ``stats``; the built frontend is
served at ``/``. Runs are recorded in the workspace's execution store (``runtime.store``).
"""
