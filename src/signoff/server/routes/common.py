"""Pieces shared by the route modules: common parameters and small helpers."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from starlette.requests import Request

from ...models import Page
from ..http import ApiError, JSONResponse, query_int, query_list
from ..operation import Param

__all__ = [
    "CURSOR",
    "IDEMPOTENCY_KEY",
    "LAST_EVENT_ID",
    "limit_param",
    "path_param",
    "page_limit",
    "encode",
    "page_response",
    "STANDARD_ERRORS",
    "WRITE_ERRORS",
    "cursor_param",
    "query_choices",
    "query_ids",
    "MAX_IDS",
    "check_type_glob",
]

#: The most ids a list's ``id`` filter takes.
MAX_IDS = 100

_encoder = msgspec.json.Encoder()
#: An event type, or a glob of them (``approval.*``), as the event and audit filters take it.
_TYPE_GLOB = re.compile(r"^[A-Za-z0-9_.:*?-]{1,100}$")

CURSOR = Param(
    "cursor", "query", {"type": "string"}, "Opaque cursor: the `next_cursor` of the previous page."
)
IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    "header",
    {"type": "string", "minLength": 1, "maxLength": 255},
    "Makes a retried POST safe: the same key and body replay the first response.",
)
LAST_EVENT_ID = Param(
    "Last-Event-ID", "header", {"type": "string"}, "Resume a stream after this event id."
)
#: Errors any authenticated route can answer.
STANDARD_ERRORS = (400, 401, 403, 404, 413, 429)
#: Errors an idempotent write can also answer.
WRITE_ERRORS = (*STANDARD_ERRORS, 409, 422)


def limit_param(default: int, maximum: int) -> Param:
    """The ``limit`` query parameter of a list."""
    schema = {"type": "integer", "minimum": 1, "maximum": maximum, "default": default}
    return Param("limit", "query", schema, f"Items per page (1-{maximum}).")


def path_param(name: str, description: str) -> Param:
    """A required path parameter."""
    return Param(name, "path", {"type": "string"}, description, required=True)


def page_limit(request: Request, default: int, maximum: int) -> int:
    """The validated ``limit`` of a list request."""
    value = query_int(request, "limit", default=default, minimum=1, maximum=maximum)
    assert value is not None
    return value


def encode(value: Any) -> bytes:
    """JSON bytes of a Struct (for idempotency records and responses)."""
    return _encoder.encode(value)


def page_response(items: list[Any], next_cursor: str | None) -> JSONResponse:
    """A ``Page`` of items."""
    return JSONResponse(Page(data=items, next_cursor=next_cursor))


def cursor_param(request: Request) -> str | None:
    """The ``cursor`` query parameter (opaque; the store validates it)."""
    value = request.query_params.get("cursor")
    if value is not None and not 0 < len(value) <= 500:
        raise ApiError(400, "invalid_request", "invalid cursor", {"parameter": "cursor"})
    return value or None


def query_choices(request: Request, name: str, allowed: set[str]) -> list[str]:
    """A repeatable, comma-separated filter whose values must be among ``allowed`` (400
    naming the first stranger), without duplicates."""
    values = query_list(request, name)
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ApiError(
            400,
            "invalid_request",
            f"unknown {name} {unknown[0]!r}; one of {', '.join(sorted(allowed))}",
            {"parameter": name},
        )
    return list(dict.fromkeys(values))


def query_ids(request: Request) -> list[str]:
    """The ``id`` filter of a list: at most `MAX_IDS` ids, without duplicates."""
    ids = query_list(request, "id")
    if len(ids) > MAX_IDS:
        raise ApiError(
            400,
            "invalid_request",
            f"at most {MAX_IDS} ids per request, got {len(ids)}",
            {"parameter": "id"},
        )
    return list(dict.fromkeys(ids))


def check_type_glob(pattern: str, *, parameter: str) -> str:
    """``pattern`` when it is an event type glob; 400 naming ``parameter`` otherwise."""
    if not _TYPE_GLOB.match(pattern):
        raise ApiError(
            400,
            "invalid_request",
            f"invalid event type pattern {pattern!r}: letters, digits, '._:-', '*' and '?'",
            {"parameter": parameter},
        )
    return pattern
