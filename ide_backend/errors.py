"""API errors: every non-2xx answer is ``{"error": {"code", "message"}}``, never a traceback."""

from __future__ import annotations

import logging
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from runtime.errors import InputValidationError, TideError

log = logging.getLogger("tide.ide")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    500: "internal",
}


class ApiError(Exception):
    """A client mistake (or a condition the client can act on), answered with ``status``."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, HTTPStatus(status).phrase.lower().replace(" ", "_"))


def error_response(status: int, message: str, code: str | None = None) -> JSONResponse:
    error = ApiError(status, message, code)
    return JSONResponse({"error": {"code": error.code, "message": message}}, status_code=status)


def from_tide_error(exc: TideError) -> ApiError:
    """A procedure's own mistake as the client should see it: bad inputs are 422, the rest
    (syntax, declarations, a model without credentials) 400; the hint goes into the message."""
    message = str(exc)
    if exc.hint:
        message = f"{message} (hint: {exc.hint})"
    if isinstance(exc, InputValidationError):
        return ApiError(422, message, "invalid_inputs")
    if exc.kind == "read_only":
        return ApiError(409, message, exc.kind)  # the server's state, not the request's fault
    return ApiError(400, message, exc.kind)


async def handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.code)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code)
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404:
        message = f"no such endpoint: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    return error_response(exc.status_code, message)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, f"internal error: {type(exc).__name__}; see the server's log")


EXCEPTION_HANDLERS = {
    ApiError: handle_api_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
