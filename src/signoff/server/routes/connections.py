"""``/v1/connections``: bind a connector to config and write-only secrets; list, read and
delete them; and the action types each offers."""

from __future__ import annotations

from starlette.responses import Response

from ...models import ActionType, Connection, ConnectionCreate, Page
from ..connectors.base import ConnectorConfigError
from ..http import ApiError, JSONResponse, decode_body
from ..idempotency import run_write
from ..operation import Call, Operation
from ..store.base import ConnectionRecord, NewConnection
from .common import (
    CURSOR,
    IDEMPOTENCY_KEY,
    STANDARD_ERRORS,
    WRITE_ERRORS,
    cursor_param,
    encode,
    limit_param,
    page_limit,
    page_response,
    path_param,
)

__all__ = ["OPERATIONS"]

_ID = path_param("connection_id", "The connection's id (`con_...`).")


async def create_connection(call: Call) -> Response:
    """Store a connection whose connector accepts its config and secrets."""
    spec = await decode_body(call.request, ConnectionCreate)
    assert spec is not None
    config, secrets = dict(spec.config or {}), dict(spec.secrets or {})
    try:
        call.broker.connectors.validate(spec.connector, config, secrets)
    except ConnectorConfigError as exc:
        raise ApiError(
            422, "validation_error", f"{exc.path}: {exc.message}", {"path": exc.path}
        ) from None
    new = NewConnection(name=spec.name, connector=spec.connector, config=config, secrets=secrets)
    result = await run_write(
        call,
        lambda connection: (201, encode(connection)),
        lambda claim: call.broker.store.create_connection(
            call.tenant_id, new, actor=call.auth.key_id, claim=claim
        ),
    )
    return result if isinstance(result, Response) else JSONResponse(result, status_code=201)


async def list_connections(call: Call) -> Response:
    """The tenant's connections, oldest first."""
    request = call.request
    page = await call.broker.store.list_connections(
        call.tenant_id, limit=page_limit(request, 50, 200), cursor=cursor_param(request)
    )
    return page_response(page.items, page.next_cursor)


async def _connection(call: Call) -> ConnectionRecord:
    connection_id = call.request.path_params["connection_id"]
    return await call.broker.store.get_connection(call.tenant_id, connection_id)


async def get_connection(call: Call) -> Response:
    """One connection, without its secrets."""
    return JSONResponse((await _connection(call)).public())


async def delete_connection(call: Call) -> Response:
    """Delete a connection; its runs remain (one approved later fails: no secrets to use)."""
    connection_id = call.request.path_params["connection_id"]
    connection = await call.broker.store.delete_connection(
        call.tenant_id, connection_id, actor=call.auth.key_id
    )
    return JSONResponse(connection)


async def _action_types(call: Call) -> dict[str, ActionType]:
    connection = await _connection(call)
    types = call.broker.connectors.action_types(connection)
    if types is None:
        raise ApiError(
            409,
            "conflict",
            f"connection {connection.id} uses the connector {connection.connector!r}, "
            "which is not installed on this broker",
        )
    return types


async def list_action_types(call: Call) -> Response:
    """Every action type of a connection, in one page."""
    types = await _action_types(call)
    return page_response([types[name] for name in sorted(types)], None)


async def get_action_type(call: Call) -> Response:
    """One action type of a connection, with its input schema."""
    types = await _action_types(call)
    name = call.request.path_params["action_type"]
    if name not in types:
        connection_id = call.request.path_params["connection_id"]
        raise ApiError(404, "not_found", f"connection {connection_id} has no action type {name!r}")
    return JSONResponse(types[name])


OPERATIONS = (
    Operation(
        "POST",
        "/v1/connections",
        "Create a connection",
        create_connection,
        scopes=("admin",),
        body=ConnectionCreate,
        responses={201: Connection},
        errors=WRITE_ERRORS,
        params=(IDEMPOTENCY_KEY,),
        description="Secrets are write-only: answers, events and logs carry only their names.",
    ),
    Operation(
        "GET",
        "/v1/connections",
        "List connections, oldest first",
        list_connections,
        scopes=("actions:read",),
        responses={200: Page[Connection]},
        errors=STANDARD_ERRORS,
        params=(limit_param(50, 200), CURSOR),
    ),
    Operation(
        "GET",
        "/v1/connections/{connection_id}",
        "Get a connection",
        get_connection,
        scopes=("actions:read",),
        responses={200: Connection},
        errors=STANDARD_ERRORS,
        params=(_ID,),
    ),
    Operation(
        "DELETE",
        "/v1/connections/{connection_id}",
        "Delete a connection (its runs remain)",
        delete_connection,
        scopes=("admin",),
        responses={200: Connection},
        errors=STANDARD_ERRORS,
        params=(_ID,),
    ),
    Operation(
        "GET",
        "/v1/connections/{connection_id}/action-types",
        "List a connection's action types",
        list_action_types,
        scopes=("actions:read",),
        responses={200: Page[ActionType]},
        errors=(*STANDARD_ERRORS, 409),
        params=(_ID,),
    ),
    Operation(
        "GET",
        "/v1/connections/{connection_id}/action-types/{action_type}",
        "Get one action type with its input schema",
        get_action_type,
        scopes=("actions:read",),
        responses={200: ActionType},
        errors=(*STANDARD_ERRORS, 409),
        params=(_ID, path_param("action_type", "The action type's name.")),
    ),
)
