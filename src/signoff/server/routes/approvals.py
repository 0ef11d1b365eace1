"""``/v1/approvals``: create, read (and long-poll), list, stream, decide, cancel."""

from __future__ import annotations

from starlette.responses import Response

from ...models import (
    TERMINAL_APPROVAL_STATUSES,
    Approval,
    ApprovalCancel,
    ApprovalCreate,
    ApprovalStatus,
    DecisionCreate,
    Page,
)
from ..http import JSONResponse, decode_body
from ..idempotency import run_write
from ..operation import Call, Operation, Param
from ..store.base import ApprovalFilter, ApprovalWrite
from .common import (
    CURSOR,
    IDEMPOTENCY_KEY,
    LAST_EVENT_ID,
    STANDARD_ERRORS,
    WRITE_ERRORS,
    cursor_param,
    encode,
    limit_param,
    page_limit,
    page_response,
    path_param,
    query_choices,
    query_ids,
)
from .waiting import long_poll_params, read_or_wait, snapshot_stream

__all__ = ["OPERATIONS"]

_STATUSES = {status.value for status in ApprovalStatus}
_ID = path_param("approval_id", "The approval's id (`apr_...`).")


def _created(write: ApprovalWrite) -> tuple[int, bytes]:
    return (201 if write.created else 200), encode(write.approval)


def _ok(approval: Approval) -> tuple[int, bytes]:
    return 200, encode(approval)


async def create_approval(call: Call) -> Response:
    """Create an approval; the policies may decide it at once."""
    spec = await decode_body(call.request, ApprovalCreate)
    assert spec is not None
    broker = call.broker
    result = await run_write(
        call,
        _created,
        lambda claim: broker.store.create_approval(
            call.tenant_id,
            spec,
            actor=call.auth.key_id,
            default_expires_in=broker.config.default_expires_in,
            claim=claim,
        ),
    )
    if isinstance(result, Response):
        return result
    if result.created and result.approval.status == ApprovalStatus.PENDING:
        broker.sweeper.notice(result.approval.expires_at)
    status, body = _created(result)
    return JSONResponse(body, status_code=status)


def _is_terminal(approval: Approval) -> bool:
    return approval.status in TERMINAL_APPROVAL_STATUSES


async def get_approval(call: Call) -> Response:
    """One approval; with ``wait``, held until it changes past ``after_version``."""
    store = call.broker.store
    approval_id = call.request.path_params["approval_id"]
    return await read_or_wait(
        call, lambda: store.get_approval(call.tenant_id, approval_id), terminal=_is_terminal
    )


async def list_approvals(call: Call) -> Response:
    """Approvals newest first, filtered by status, action and id."""
    request = call.request
    filters = ApprovalFilter(
        statuses=tuple(query_choices(request, "status", _STATUSES)),
        action=request.query_params.get("action") or None,
        ids=tuple(query_ids(request)),
    )
    page = await call.broker.store.list_approvals(
        call.tenant_id, filters, limit=page_limit(request, 50, 200), cursor=cursor_param(request)
    )
    return page_response(page.items, page.next_cursor)


async def stream_approval(call: Call) -> Response:
    """SSE: the approval's current state, then every change, closed after a terminal one."""
    store = call.broker.store
    approval_id = call.request.path_params["approval_id"]
    # Reading first answers 404 before any stream starts. A reconnect (Last-Event-ID) gets
    # the snapshot again; clients drop the versions they have seen.
    approval = await store.get_approval(call.tenant_id, approval_id)
    return snapshot_stream(
        call,
        approval,
        lambda: store.get_approval(call.tenant_id, approval_id),
        kind="approval",
        terminal=_is_terminal,
    )


async def decide_approval(call: Call) -> Response:
    """Approve or deny a pending approval; 409 when it is no longer pending."""
    spec = await decode_body(call.request, DecisionCreate)
    assert spec is not None
    approval_id = call.request.path_params["approval_id"]
    result = await run_write(
        call,
        _ok,
        lambda claim: call.broker.store.decide_approval(
            call.tenant_id,
            approval_id,
            approve=spec.decision == "approve",
            comment=spec.comment,
            actor=call.auth.key_id,
            claim=claim,
        ),
    )
    return result if isinstance(result, Response) else JSONResponse(result)


async def cancel_approval(call: Call) -> Response:
    """Withdraw a pending approval; 409 when it is no longer pending."""
    spec = await decode_body(call.request, ApprovalCancel, optional=True)
    approval_id = call.request.path_params["approval_id"]
    result = await run_write(
        call,
        _ok,
        lambda claim: call.broker.store.cancel_approval(
            call.tenant_id,
            approval_id,
            comment=spec.comment if spec else None,
            actor=call.auth.key_id,
            claim=claim,
        ),
    )
    return result if isinstance(result, Response) else JSONResponse(result)


_LIST_PARAMS = (
    Param("status", "query", {"type": "string"}, "Status filter; repeatable or comma-separated."),
    Param("action", "query", {"type": "string"}, "Exact action name."),
    Param(
        "id",
        "query",
        {"type": "string"},
        "Approval ids (at most 100); repeatable or comma-separated.",
    ),
    limit_param(50, 200),
    CURSOR,
)

OPERATIONS = (
    Operation(
        "POST",
        "/v1/approvals",
        "Create an approval",
        create_approval,
        scopes=("approvals:write",),
        body=ApprovalCreate,
        responses={201: Approval, 200: Approval},
        errors=WRITE_ERRORS,
        params=(IDEMPOTENCY_KEY,),
    ),
    Operation(
        "GET",
        "/v1/approvals",
        "List approvals, newest first",
        list_approvals,
        scopes=("approvals:read",),
        responses={200: Page[Approval]},
        errors=STANDARD_ERRORS,
        params=_LIST_PARAMS,
    ),
    Operation(
        "GET",
        "/v1/approvals/{approval_id}",
        "Get an approval (long-poll with wait)",
        get_approval,
        scopes=("approvals:read",),
        responses={200: Approval},
        errors=STANDARD_ERRORS,
        params=(_ID, *long_poll_params("approval")),
    ),
    Operation(
        "GET",
        "/v1/approvals/{approval_id}/events",
        "Stream an approval's changes (SSE)",
        stream_approval,
        scopes=("approvals:read",),
        stream=True,
        errors=STANDARD_ERRORS,
        params=(_ID, LAST_EVENT_ID),
    ),
    Operation(
        "POST",
        "/v1/approvals/{approval_id}/decision",
        "Approve or deny",
        decide_approval,
        scopes=("approvals:decide",),
        body=DecisionCreate,
        responses={200: Approval},
        errors=WRITE_ERRORS,
        params=(_ID, IDEMPOTENCY_KEY),
    ),
    Operation(
        "POST",
        "/v1/approvals/{approval_id}/cancel",
        "Cancel a pending approval",
        cancel_approval,
        scopes=("approvals:write",),
        body=ApprovalCancel,
        body_required=False,
        responses={200: Approval},
        errors=WRITE_ERRORS,
        params=(_ID, IDEMPOTENCY_KEY),
    ),
)
