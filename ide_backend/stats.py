"""``GET /api/stats``: time to first token, duration, tokens and cost, per model, agent or
procedure, over a time window."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ide_backend.errors import ApiError
from ide_backend.runs_api import query_tags
from ide_backend.services import services
from runtime.store import GROUPS, parse_since

WINDOWS = ("1h", "24h", "7d", "30d", "all")


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
    return JSONResponse({"by": by, "since": since, "rows": [row.to_json() for row in rows]})


routes = [Route("/api/stats", stats, methods=["GET"])]
