"""``/v1/policies``: the rules that allow, deny or require a human (admin)."""

from __future__ import annotations

from starlette.responses import Response

from ...models import Page, Policy, PolicyCreate
from ..http import JSONResponse, decode_body
from ..idempotency import run_write
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


async def create_policy(call: Call) -> Response:
    """Add a rule."""
    spec = await decode_body(call.request, PolicyCreate)
    assert spec is not None
    result = await run_write(
        call,
        lambda policy: (201, encode(policy)),
        lambda claim: call.broker.store.create_policy(
            call.tenant_id, spec, actor=call.auth.key_id, claim=claim
        ),
    )
    return result if isinstance(result, Response) else JSONResponse(result, status_code=201)


async def list_policies(call: Call) -> Response:
    """The rules in evaluation order."""
    request = call.request
    page = await call.broker.store.list_policies(
        call.tenant_id, limit=page_limit(request, 50, 200), cursor=cursor_param(request)
    )
    return page_response(page.items, page.next_cursor)


async def delete_policy(call: Call) -> Response:
    """Remove a rule; returns it as it was."""
    policy_id = call.request.path_params["policy_id"]
    policy = await call.broker.store.delete_policy(
        call.tenant_id, policy_id, actor=call.auth.key_id
    )
    return JSONResponse(policy)


OPERATIONS = (
    Operation(
        "POST",
        "/v1/policies",
        "Create a policy rule",
        create_policy,
        scopes=("admin",),
        body=PolicyCreate,
        responses={201: Policy},
        errors=WRITE_ERRORS,
        params=(IDEMPOTENCY_KEY,),
    ),
    Operation(
        "GET",
        "/v1/policies",
        "List policy rules in evaluation order",
        list_policies,
        scopes=("admin",),
        responses={200: Page[Policy]},
        errors=STANDARD_ERRORS,
        params=(limit_param(50, 200), CURSOR),
    ),
    Operation(
        "DELETE",
        "/v1/policies/{policy_id}",
        "Delete a policy rule",
        delete_policy,
        scopes=("admin",),
        responses={200: Policy},
        errors=STANDARD_ERRORS,
        params=(path_param("policy_id", "The rule's id (`pol_...`)."),),
    ),
)
