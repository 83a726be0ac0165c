"""Reading requests: JSON bodies with a size limit, and typed fields from them."""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

from starlette.requests import Request

from ide_backend.errors import ApiError

T = TypeVar("T")


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object; 413 beyond ``limit`` bytes (read no further), 415 unless
    it is sent as JSON, 400 when it does not parse."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        # A browser can send text/plain across sites without asking first; JSON it cannot.
        raise ApiError(415, "send the body as JSON (Content-Type: application/json)")
    declared = request.headers.get("content-length")
    if declared is not None and (whole_number(declared.strip()) or 0) > limit:
        raise ApiError(413, f"the body is larger than {limit // 1024} KiB")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise ApiError(413, f"the body is larger than {limit // 1024} KiB")
    try:
        data = json.loads(body or b"{}", parse_constant=_not_json, parse_float=_finite)
        # An escaped lone surrogate ("\ud800") parses, but is no text: nothing could store,
        # send or print it.
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise ApiError(
            400, "the body holds a lone surrogate (an unpaired \\ud800-\\udfff escape)"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    return data


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is beyond the largest number JSON can hold here")
    return value


def whole_number(text: str) -> int | None:
    """``text`` as a non-negative whole number in ASCII digits (``str.isdigit`` also takes
    "²", which ``int`` refuses), at most 18 of them; None otherwise."""
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return int(text)


def event_seq(request: Request, default: str | None = "0") -> int | None:
    """The seq a reconnecting client last got: ``Last-Event-ID``, or ``?after=``."""
    text = request.headers.get("last-event-id") or request.query_params.get("after") or default
    if text is None:
        return None
    seq = whole_number(text.strip())
    if seq is None:
        raise ApiError(400, "Last-Event-ID and after must be a non-negative event seq")
    return seq


def optional(data: dict[str, Any], name: str, kind: type[T]) -> T | None:
    """``data[name]`` if it has type ``kind``, None if absent; 422 if it has another type."""
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ApiError(422, f"'{name}' must be a {_NAMES.get(kind, kind.__name__)}")
    return value


def required(data: dict[str, Any], name: str, kind: type[T]) -> T:
    value = optional(data, name, kind)
    if value is None:
        raise ApiError(422, f"'{name}' is required")
    return value


_NAMES: dict[type, str] = {str: "string", bool: "boolean", dict: "JSON object", int: "number"}
