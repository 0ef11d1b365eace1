"""The route table's building block: one `Operation` per method and path.

An operation carries what its handler needs (scopes checked before it runs) and what the
OpenAPI document says about it (parameters, body, responses), so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .auth import AuthContext
from .http import ApiError

if TYPE_CHECKING:
    from .broker import Broker

__all__ = ["Param", "Operation", "Call", "to_route"]


@dataclass(frozen=True)
class Param:
    """A path, query or header parameter, for validation messages and the OpenAPI document."""

    name: str
    location: Literal["path", "query", "header"]
    schema: Mapping[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Call:
    """One request as a handler sees it: the request, its caller and the broker."""

    request: Request
    auth: AuthContext
    broker: Broker

    @property
    def tenant_id(self) -> str:
        """The caller's tenant: every read and write is scoped to it."""
        return self.auth.tenant_id


Handler = Callable[[Call], Awaitable[Response]]
PublicHandler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    """One method on one path: its handler, the scopes it needs and its documentation."""

    method: str
    path: str
    summary: str
    handler: Handler | None = None
    #: Any one of these scopes admits the caller (``admin`` holds all). Ignored when public.
    scopes: tuple[str, ...] = ()
    #: A handler for a route without authentication (health, the OpenAPI document).
    public_handler: PublicHandler | None = None
    body: type | None = None
    body_required: bool = True
    #: Success status -> response body type (None: no body). SSE routes use ``stream``.
    responses: Mapping[int, Any] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    params: tuple[Param, ...] = ()
    stream: bool = False
    description: str | None = None

    @property
    def operation_id(self) -> str:
        """A stable id for the OpenAPI document, e.g. ``get_v1_approvals_id``."""
        cleaned = self.path.strip("/").replace("/", "_").replace("{", "").replace("}", "")
        return f"{self.method.lower()}_{cleaned.replace('-', '_')}"


def to_route(operation: Operation) -> Route:
    """The Starlette route running the operation: authenticate, rate-limit, check scope."""
    if operation.public_handler is not None:
        return Route(operation.path, operation.public_handler, methods=[operation.method])
    handler = operation.handler
    assert handler is not None, operation.path
    scopes = operation.scopes

    async def endpoint(request: Request) -> Response:
        broker: Broker = request.app.state.broker
        auth = await broker.auth.authenticate(request.headers.get("authorization"))
        request.scope.setdefault("state", {})["key_id"] = auth.key_id
        broker.rate_limiter.check(auth.key_id)
        if not any(auth.allows(scope) for scope in scopes):
            needed = " or ".join(scopes)
            raise ApiError(
                403,
                "insufficient_scope",
                f"API key {auth.key_id} lacks the scope {needed} needed for "
                f"{operation.method} {operation.path}",
                {"required_scope": scopes[0], "any_of": list(scopes)},
            )
        return await handler(Call(request, auth, broker))

    return Route(operation.path, endpoint, methods=[operation.method])
