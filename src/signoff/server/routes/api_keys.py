"""``/v1/api-keys``: mint, list and revoke keys (admin)."""

from __future__ import annotations

import msgspec
from starlette.responses import Response

from ...models import ApiKey, ApiKeyCreate, ApiKeyCreated, Page
from ..auth import mint_key
from ..http import ApiError, JSONResponse, decode_body
from ..idempotency import run_write
from ..ids import utcnow
from ..operation import Call, Operation
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


async def create_api_key(call: Call) -> Response:
    """Mint a key; the secret is in this response only (a replay cannot repeat it)."""
    spec = await decode_body(call.request, ApiKeyCreate)
    assert spec is not None
    if spec.expires_at is not None and spec.expires_at <= utcnow():
        raise ApiError(
            422,
            "validation_error",
            "expires_at must be in the future",
            {"path": "$.expires_at"},
        )
    broker = call.broker
    minted = mint_key(
        spec.name,
        tuple(dict.fromkeys(spec.scopes)),
        pepper=broker.config.key_pepper,
        expires_at=spec.expires_at,
    )
    # Only the public part is stored for replay: the secret is never written anywhere.
    result = await run_write(
        call,
        lambda key: (201, encode(key)),
        lambda claim: broker.store.create_api_key(
            call.tenant_id, minted.record, actor=call.auth.key_id, claim=claim
        ),
        replayable=False,
    )
    if isinstance(result, Response):
        return result
    created = ApiKeyCreated(**msgspec.structs.asdict(result), key=minted.token)
    return JSONResponse(created, status_code=201)


async def list_api_keys(call: Call) -> Response:
    """The tenant's keys, oldest first (secrets are never shown again)."""
    request = call.request
    page = await call.broker.store.list_api_keys(
        call.tenant_id, limit=page_limit(request, 50, 200), cursor=cursor_param(request)
    )
    return page_response(page.items, page.next_cursor)


async def revoke_api_key(call: Call) -> Response:
    """Revoke a key; it stops working at once."""
    key_id = call.request.path_params["key_id"]
    key = await call.broker.store.revoke_api_key(call.tenant_id, key_id, actor=call.auth.key_id)
    call.broker.auth.forget(key_id)
    return JSONResponse(key)


OPERATIONS = (
    Operation(
        "POST",
        "/v1/api-keys",
        "Create an API key (the secret is shown once)",
        create_api_key,
        scopes=("admin",),
        body=ApiKeyCreate,
        responses={201: ApiKeyCreated},
        errors=WRITE_ERRORS,
        params=(IDEMPOTENCY_KEY,),
    ),
    Operation(
        "GET",
        "/v1/api-keys",
        "List API keys",
        list_api_keys,
        scopes=("admin",),
        responses={200: Page[ApiKey]},
        errors=STANDARD_ERRORS,
        params=(limit_param(50, 200), CURSOR),
    ),
    Operation(
        "DELETE",
        "/v1/api-keys/{key_id}",
        "Revoke an API key",
        revoke_api_key,
        scopes=("admin",),
        responses={200: ApiKey},
        errors=STANDARD_ERRORS,
        params=(path_param("key_id", "The key's id (`key_...`)."),),
    ),
)
