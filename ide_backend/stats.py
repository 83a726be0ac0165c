"""``GET /api/stats``: time to first token, duration, tokens, cost and alerts, per model, agent
or procedure, over a time window; with ``?every=1h``, also p50/p95 time to first token and cost
per key and time bucket (``series``)."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ide_backend.errors import ApiError
from ide_backend.runs_api import query_tags
from ide_backend.services import services
from runtime.store import GROUPS, parse_since

WINDOWS = ("1h", "24h", "7d", "30d", "all")
# Bucket widths of a time series (``?every=``).
EVERY = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "1d": timedelta(days=1),
}


async def stats(request: Request) -> JSONResponse:
    query = request.query_params
    by = query.get("by") or "model"
    since = query.get("since") or "7d"
    if by not in GROUPS:
        raise ApiError(400, f"by must be one of {', '.join(GROUPS)}")
    if since not in WINDOWS:
        raise ApiError(400, f"since must be one of {', '.join(WINDOWS)}")
    include_mock = query.get("mock", "").lower() in ("1", "true", "yes")
    tags = query_tags(request)
    rows = await services(request).store.stats(
        by,  # type: ignore[arg-type]
        since=parse_since(since),
        include_mock=include_mock,
        tags=tags,
    )
    body = {"by": by, "since": since, "rows": [row.to_json() for row in rows]}
    every = query.get("every")
    if every:
        if every not in EVERY:
            raise ApiError(400, f"every must be one of {', '.join(EVERY)}")
        points = await services(request).store.series(
            by,  # type: ignore[arg-type]
            every=EVERY[every],
            since=parse_since(since),
            include_mock=include_mock,
            tags=tags,
        )
        body.update(every=every, series=[point.to_json() for point in points])
    return JSONResponse(body)


routes = [Route("/api/stats", stats, methods=["GET"])]
