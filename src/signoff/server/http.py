"""HTTP plumbing shared by the routes: the error exception, msgspec JSON responses, request
body decoding and query-parameter parsing, every failure in the contract's error shape."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ..models import ErrorBody, ErrorDetail

__all__ = [
    "ApiError",
    "JSONResponse",
    "error_response",
    "decode_body",
    "query_int",
    "query_float",
    "query_list",
]

T = TypeVar("T")

_encoder = msgspec.json.Encoder()


class ApiError(Exception):
    """An error answered in the contract's shape: ``{"error": {type, message, details}}``."""

    def __init__(
        self,
        status: int,
        type: str,
        message: str,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.details = details
        self.headers = dict(headers or {})


class JSONResponse(Response):
    """A response whose content is encoded with msgspec (Structs, lists, dicts)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Encode the content."""
        if isinstance(content, bytes):
            return content
        return _encoder.encode(content)


def error_response(error: ApiError) -> JSONResponse:
    """The response for an `ApiError`."""
    body = ErrorBody(
        error=ErrorDetail(type=error.type, message=error.message, details=error.details)
    )
    return JSONResponse(body, status_code=error.status, headers=error.headers)


_AT = re.compile(r" - at `(\$[^`]*)`$")
_FIELD = re.compile(r"(?:missing required|contains unknown) field `([^`]+)`")


def _path_of(message: str) -> str:
    """The JSON path a msgspec validation message is about, e.g. ``$.expires_in``."""
    match = _AT.search(message)
    path = match.group(1) if match else "$"
    field = _FIELD.search(message)
    if field:
        path = f"{path}.{field.group(1)}"
    return path


def decode_json(body: bytes, type: type[T]) -> T:
    """Decode and validate a body: 400 ``invalid_json`` or 422 ``validation_error``."""
    try:
        return msgspec.json.decode(body, type=type)
    except msgspec.ValidationError as exc:
        message = str(exc)
        raise ApiError(
            422, "validation_error", f"invalid request body: {message}", {"path": _path_of(message)}
        ) from None
    except msgspec.DecodeError as exc:
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}") from None


async def decode_body(request: Request, type: type[T], *, optional: bool = False) -> T | None:
    """The request body as ``type``; an empty body is None when the body is optional."""
    body = await request.body()
    if optional and not body.strip():
        return None
    return decode_json(body, type)


def _bad_query(name: str, message: str) -> ApiError:
    return ApiError(400, "invalid_request", message, {"parameter": name})


def query_int(
    request: Request, name: str, *, default: int | None, minimum: int, maximum: int | None = None
) -> int | None:
    """An integer query parameter within bounds (400 ``invalid_request`` naming it)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad_query(
            name, f"query parameter {name!r} must be an integer, got {raw!r}"
        ) from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise _bad_query(name, f"query parameter {name!r} must be {bound}, got {value}")
    return value


def query_float(request: Request, name: str, *, maximum: float) -> float | None:
    """A non-negative number of seconds, capped at ``maximum`` (400 if not a number)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise _bad_query(name, f"query parameter {name!r} must be a number of seconds >= 0")
    return min(value, maximum)


def query_list(request: Request, name: str) -> list[str]:
    """A repeatable, comma-separated query parameter as one list (blanks dropped)."""
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values
