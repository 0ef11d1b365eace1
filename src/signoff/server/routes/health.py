"""``GET /healthz`` (no auth): the broker is up and its store answers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio
import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ..http import ApiError, JSONResponse, error_response
from ..operation import Operation

if TYPE_CHECKING:
    from ..broker import Broker

__all__ = ["OPERATIONS", "Health"]

log = logging.getLogger("signoff.server")

#: How long the store may take to answer before the broker is reported unhealthy.
_STORE_TIMEOUT = 5.0


class Health(msgspec.Struct, frozen=True):
    """The health answer."""

    status: str


async def healthz(request: Request) -> Response:
    """Report that the broker is up and a read of its store succeeds (503 otherwise)."""
    broker: Broker = request.app.state.broker
    try:
        # A read through the same connection every request reads with, of the cheapest row
        # there is: a store that cannot answer this cannot answer anything.
        with anyio.fail_after(_STORE_TIMEOUT):
            await broker.store.schema_version()
    except Exception as exc:
        log.warning("health check: the store did not answer", exc_info=True)
        return error_response(
            ApiError(
                503,
                "unavailable",
                f"the broker's store did not answer a read ({type(exc).__name__}); "
                "see the broker log",
            )
        )
    return JSONResponse(Health(status="ok"))


OPERATIONS = (
    Operation(
        "GET",
        "/healthz",
        "Health check (no auth)",
        public_handler=healthz,
        responses={200: Health},
        errors=(503,),
        description='`200 {"status": "ok"}` once a read of the store succeeds; '
        "`503 unavailable` when it fails or takes over 5 s.",
    ),
)
