"""``/api/runs``: start, list, read and cancel runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ide_backend.bodies import optional, read_json, whole_number
from ide_backend.errors import ApiError, from_tide_error
from ide_backend.procedures import UNSAVED_NAME
from ide_backend.runs import LiveRun
from ide_backend.services import Services, services
from runtime.errors import TideError
from runtime.run_tags import parse_tag_args
from runtime.source import ProcedureSource
from runtime.store import RUN_STATUSES, RunRecord

MAX_LIST = 500
# How long a cancel request waits for the run to end before answering with its status.
CANCEL_WAIT_S = 5.0


@dataclass
class RunRequest:
    """What a request to start a run asks for (the body of ``POST /api/runs``)."""

    source: ProcedureSource
    inputs: dict[str, Any]
    model: str | None
    mock: bool
    tags: dict[str, Any]


async def read_run_request(ide: Services, data: dict[str, Any]) -> RunRequest:
    path = optional(data, "path", str)
    text = optional(data, "source", str)
    inputs = optional(data, "inputs", dict) or {}
    model = optional(data, "model", str) or None
    mock = bool(optional(data, "mock", bool))
    tags = optional(data, "tags", dict) or {}
    if path is None and text is None:
        raise ApiError(422, "give the procedure's 'path' in the workspace, or its 'source'")
    try:
        if path is not None:
            source = await anyio.to_thread.run_sync(ide.workspace.source, path, text)
        else:
            assert text is not None
            source = ProcedureSource.from_text(text, UNSAVED_NAME, ide.workspace.root)
    except TideError as exc:
        raise from_tide_error(exc) from None
    return RunRequest(source, inputs, model, mock, tags)


async def submit(ide: Services, asked: RunRequest) -> LiveRun:
    try:
        return await ide.manager.submit(
            asked.source, asked.inputs, model=asked.model, mock=asked.mock, tags=asked.tags
        )
    except TideError as exc:
        raise from_tide_error(exc) from None


async def start_run(request: Request) -> JSONResponse:
    ide = services(request)
    data = await read_json(request, ide.settings.max_body_bytes)
    live = await submit(ide, await read_run_request(ide, data))
    return JSONResponse({"run_id": live.id, "status": live.record.status}, status_code=201)


def _matches(
    record: RunRecord, procedure: str | None, status: str | None, tags: dict[str, str]
) -> bool:
    return (
        (procedure is None or record.procedure == procedure)
        and (status is None or record.status == status)
        and all(record.tags.get(k) == v for k, v in tags.items())
    )


def query_tags(request: Request) -> dict[str, str]:
    """``?tag=key=value`` (repeatable) as a dict; 400 for a malformed one."""
    try:
        return parse_tag_args(request.query_params.getlist("tag"))
    except TideError as exc:
        raise ApiError(400, exc.message) from None


async def list_runs(request: Request) -> JSONResponse:
    ide = services(request)
    query = request.query_params
    procedure = query.get("procedure") or None
    status = query.get("status") or None
    if status is not None and status not in RUN_STATUSES:
        raise ApiError(400, f"unknown status '{status}'; use one of {', '.join(RUN_STATUSES)}")
    limit_text = query.get("limit") or "50"
    limit = whole_number(limit_text) or 0
    if not 1 <= limit <= MAX_LIST:
        raise ApiError(400, f"limit must be a number from 1 to {MAX_LIST}")
    tags = query_tags(request)
    stored = await ide.store.list_runs(procedure=procedure, status=status, limit=limit, tags=tags)
    records = {r.id: r for r in stored}
    # The store lags behind by up to one batch: runs in memory are the latest word.
    for live in ide.manager.recent():
        if _matches(live.record, procedure, status, tags):
            records[live.id] = live.record
        else:
            records.pop(live.id, None)
    ordered = sorted(records.values(), key=lambda r: (r.created_at, r.id), reverse=True)
    return JSONResponse({"runs": [r.summary() for r in ordered[:limit]]})


async def _record(ide: Services, run_id: str) -> RunRecord:
    live = ide.manager.get(run_id)
    if live is not None:
        return live.record
    record = await ide.store.get_run(run_id)
    if record is None:
        raise ApiError(404, f"no run '{run_id}'")
    return record


async def get_run(request: Request) -> JSONResponse:
    record = await _record(services(request), request.path_params["run_id"])
    return JSONResponse(record.detail())


async def cancel_run(request: Request) -> JSONResponse:
    ide = services(request)
    run_id = request.path_params["run_id"]
    live = ide.manager.cancel(run_id)
    if live is None:
        record = await _record(ide, run_id)
        if not record.finished:
            raise ApiError(409, f"run '{run_id}' is not running in this server", "not_here")
        return _status(record)
    with anyio.move_on_after(CANCEL_WAIT_S):
        await live.done.wait()
    return _status(live.record)


def _status(record: RunRecord) -> JSONResponse:
    body: dict[str, Any] = {"run_id": record.id, "status": record.status}
    return JSONResponse(body)


routes = [
    Route("/api/runs", start_run, methods=["POST"]),
    Route("/api/runs", list_runs, methods=["GET"]),
    Route("/api/runs/{run_id}", get_run, methods=["GET"]),
    Route("/api/runs/{run_id}/cancel", cancel_run, methods=["POST"]),
]
