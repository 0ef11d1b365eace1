"""``GET /healthz`` (no auth): the broker is up and its store answers."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ..http import JSONResponse
from ..operation import Operation

__all__ = ["OPERATIONS", "Health"]


class Health(msgspec.Struct, frozen=True):
    """The health answer."""

    status: str


async def healthz(request: Request) -> Response:
    """Report that the broker is up."""
    return JSONResponse(Health(status="ok"))


OPERATIONS = (
    Operation(
        "GET", "/healthz", "Health check (no auth)", public_handler=healthz, responses={200: Health}
    ),
)
