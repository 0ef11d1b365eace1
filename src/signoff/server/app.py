"""The broker's ASGI app: routes, error handlers, middleware and lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from .broker import Broker
from .config import BrokerConfig
from .http import ApiError, JSONResponse, error_response
from .middleware import RequestMiddleware
from .openapi import build_openapi
from .operation import Operation, to_route
from .routes import OPERATIONS
from .store.base import DuplicateName, InvalidCursor, NotFound, NotPending, Store
from .store.sqlite import SQLiteStore

__all__ = ["create_app"]


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        error = ApiError(404, "not_found", f"no route {request.method} {request.url.path}")
    elif exc.status_code == 405:
        error = ApiError(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed on {request.url.path}",
            headers=exc.headers,
        )
    else:
        error = ApiError(exc.status_code, "http_error", str(exc.detail), headers=exc.headers)
    return error_response(error)


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(ApiError(404, "not_found", f"{exc} not found"))


async def _not_pending(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotPending)
    approval = exc.approval
    when = approval.decided_at.strftime("%Y-%m-%dT%H:%M:%SZ") if approval.decided_at else "?"
    status = str(approval.status)  # each settled status reads as its verb: "was already denied"
    message = (
        f"approval {approval.id} was already {status} by {approval.decided_by} at {when}; "
        "only a pending approval can be decided or cancelled"
    )
    return error_response(
        ApiError(
            409,
            "approval_not_pending",
            message,
            {
                "status": status,
                "decided_by": approval.decided_by,
                "version": approval.version,
            },
        )
    )


async def _invalid_cursor(request: Request, exc: Exception) -> Response:
    error = ApiError(
        400, "invalid_request", "cursor is not one this list issued", {"parameter": "cursor"}
    )
    return error_response(error)


async def _duplicate(request: Request, exc: Exception) -> Response:
    return error_response(ApiError(409, "conflict", f"{exc} exists already"))


@asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    broker: Broker = app.state.broker
    await broker.store.open()
    try:
        # Approvals that fell due while the broker was down expire before the first request
        # (cancelling their runs); then runs a crash interrupted are queued to run again.
        await broker.sweeper.sweep_once()
        await broker.executor.open()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(broker.sweeper.run)
            tasks.start_soon(broker.executor.run)
            tasks.start_soon(broker.auth.run)
            yield
            broker.begin_shutdown()
            await broker.executor.drain(broker.config.action_timeout)
            tasks.cancel_scope.cancel()
    finally:
        await broker.connectors.aclose()
        await broker.store.close()


def create_app(config: BrokerConfig | None = None, *, store: Store | None = None) -> Starlette:
    """The broker as an ASGI app; the store opens and closes with the app's lifespan."""
    config = config or BrokerConfig()
    if store is None:
        store = SQLiteStore(config.db_path, idempotency_ttl=config.idempotency_ttl)
    broker = Broker(config, store)
    store.subscribe(broker.hub.notify)
    store.subscribe_runs(broker.executor.enqueue)

    openapi_document: dict[str, Any] = {}

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document)

    operations: tuple[Operation, ...] = (
        *OPERATIONS,
        Operation(
            "GET",
            "/openapi.json",
            "This OpenAPI document (no auth)",
            public_handler=openapi,
            responses={200: dict[str, Any]},
        ),
    )
    openapi_document.update(build_openapi(operations))
    app = Starlette(
        routes=[to_route(op) for op in operations],
        middleware=[
            Middleware(
                RequestMiddleware,
                max_body_size=config.max_body_size,
                log_requests=config.log_requests,
            )
        ],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            NotFound: _not_found,
            NotPending: _not_pending,
            InvalidCursor: _invalid_cursor,
            DuplicateName: _duplicate,
        },
        lifespan=_lifespan,
    )
    app.state.broker = broker
    app.state.operations = operations
    return app
