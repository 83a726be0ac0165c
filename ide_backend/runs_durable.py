"""``/api/runs/{id}/answer`` and ``/api/runs/{id}/resume``: a person's answer to a waiting run,
and resuming an interrupted one.

Answering resumes the run at once (an answer is what it waited for). An interrupted run is
resumed only when asked: resuming calls models again, which costs money.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ide_backend.bodies import read_json
from ide_backend.errors import ApiError, from_tide_error
from ide_backend.services import services
from runtime.errors import TideError
from runtime.human_fields import InvalidAnswer
from runtime.journal import DivergedError
from runtime.resume import NotResumable, UnknownRun
from runtime.store.journal import RequestMismatch
from runtime.store.opening import refuse_read_only

if TYPE_CHECKING:
    from ide_backend.runs import LiveRun, RunManager


def _conflict(exc: RequestMismatch) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": "request_mismatch", "message": exc.message, "pending": exc.pending}},
        status_code=409,
    )


def _invalid(exc: InvalidAnswer) -> JSONResponse:
    """400 naming the fields of a ``multiple`` request that the answer gets wrong."""
    message = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
    error = {"code": exc.kind, "message": message, "fields": exc.problems}
    return JSONResponse({"error": error}, status_code=400)


async def _resume(manager: RunManager, run_id: str) -> LiveRun:
    try:
        return await manager.resume(run_id)
    except UnknownRun as exc:
        raise ApiError(404, exc.message) from None
    except NotResumable as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        raise ApiError(409, exc.message + hint, "not_resumable") from None
    except DivergedError as exc:
        hint = f" (hint: {exc.hint})" if exc.hint else ""
        raise ApiError(409, str(exc) + hint, "diverged") from None
    except TideError as exc:
        raise from_tide_error(exc) from None


async def answer_run(request: Request) -> JSONResponse:
    app = services(request)
    run_id = request.path_params["run_id"]
    data = await read_json(request, app.settings.max_body_bytes)
    if not isinstance(data.get("request_id"), str):
        raise ApiError(422, "give the 'request_id' being answered, and its 'value'")
    if await app.store.get_run(run_id) is None:
        raise ApiError(404, f"no run '{run_id}'")
    try:
        refuse_read_only(app.store, "an answer")
    except TideError as exc:
        raise from_tide_error(exc) from None
    await app.store.flush()  # the run's request is on disk before it is answered there
    try:
        await app.store.answer_request(run_id, data["request_id"], data.get("value"), "person")
    except RequestMismatch as exc:
        return _conflict(exc)
    except InvalidAnswer as exc:
        return _invalid(exc)
    live = await _resume(app.manager, run_id)
    return JSONResponse({"run_id": run_id, "status": live.record.status}, status_code=202)


async def resume_run(request: Request) -> JSONResponse:
    app = services(request)
    run_id = request.path_params["run_id"]
    await app.store.flush()
    live = await _resume(app.manager, run_id)
    return JSONResponse({"run_id": run_id, "status": live.record.status}, status_code=202)


routes = [
    Route("/api/runs/{run_id}/answer", answer_run, methods=["POST"]),
    Route("/api/runs/{run_id}/resume", resume_run, methods=["POST"]),
]
