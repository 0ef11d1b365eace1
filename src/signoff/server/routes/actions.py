"""``/v1/actions``: run actions (one, or a batch), read runs (and long-poll), list and stream.

The work of running an action (checks, policies, idempotency, execution) is in
`signoff.server.actions`; these handlers decode, delegate and answer.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from starlette.responses import Response

from ...models import (
    TERMINAL_RUN_STATUSES,
    ActionBatchCreate,
    ActionBatchItem,
    ActionBatchResponse,
    ActionBatchResult,
    ActionRequest,
    ActionRun,
    ErrorDetail,
    Page,
    RunStatus,
)
from ..actions import ActionAnswer, Submission, submit
from ..http import ApiError, JSONResponse, decode_body, decode_json
from ..idempotency import header_key
from ..operation import Call, Operation, Param
from ..store.base import RunFilter
from .common import (
    CURSOR,
    IDEMPOTENCY_KEY,
    LAST_EVENT_ID,
    STANDARD_ERRORS,
    WRITE_ERRORS,
    cursor_param,
    limit_param,
    page_limit,
    page_response,
    path_param,
    query_choices,
    query_ids,
)
from .waiting import long_poll_params, read_or_wait, snapshot_stream

__all__ = ["OPERATIONS", "ID"]

_STATUSES = {status.value for status in RunStatus}
ID = path_param("run_id", "The run's id (`run_...`).")


class _RawBatch(msgspec.Struct, forbid_unknown_fields=True):
    """A batch whose items are decoded one by one, so one malformed item fails alone."""

    items: Annotated[list[msgspec.Raw], msgspec.Meta(min_length=1, max_length=100)]


def _request_of(item: ActionBatchItem) -> ActionRequest:
    return ActionRequest(
        connection_id=item.connection_id,
        action_type=item.action_type,
        input=item.input,
        metadata=item.metadata,
    )


async def create_action(call: Call) -> Response:
    """Run one action as the policies decide; the answer is the run (finished when allowed)."""
    spec = await decode_body(call.request, ActionRequest)
    assert spec is not None
    (answer,) = await submit(call, [Submission(spec, header_key(call))])
    if answer.error is not None:
        raise answer.error
    if answer.replayed is not None:
        return Response(
            answer.replayed,
            status_code=answer.status,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )
    return JSONResponse(answer.run, status_code=answer.status)


def _result(answer: ActionAnswer) -> ActionBatchResult:
    error = answer.error
    if error is None:
        return ActionBatchResult(status_code=answer.status, run=answer.run)
    detail = ErrorDetail(type=error.type, message=error.message, details=error.details)
    return ActionBatchResult(status_code=answer.status, error=detail)


async def create_batch(call: Call) -> Response:
    """Run up to 100 actions; each item is answered on its own, in request order.

    An item's ``idempotency_key`` works as that of a single request. An ``Idempotency-Key``
    header on the batch stands for every item without its own key (as ``<key>:<index>``), so
    a retried batch replays each item instead of running it again.
    """
    batch = decode_json(await call.request.body(), _RawBatch)
    header = header_key(call)
    answers: list[ActionAnswer | None] = [None] * len(batch.items)
    submissions: list[tuple[int, Submission]] = []
    for index, raw in enumerate(batch.items):
        try:
            item = decode_json(bytes(raw), ActionBatchItem)
        except ApiError as error:
            answers[index] = ActionAnswer(error.status, error=error)
            continue
        key = item.idempotency_key
        if key is None and header is not None:
            key = f"{header}:{index}"
        submissions.append((index, Submission(_request_of(item), key)))
    submitted = await submit(call, [submission for _, submission in submissions])
    for (index, _), answer in zip(submissions, submitted, strict=True):
        answers[index] = answer
    results = [_result(answer) for answer in answers if answer is not None]
    return JSONResponse(ActionBatchResponse(data=results))


def _is_terminal(run: ActionRun) -> bool:
    return run.status in TERMINAL_RUN_STATUSES


async def get_action(call: Call) -> Response:
    """One run; with ``wait``, held until it changes past ``after_version``."""
    store = call.broker.store
    run_id = call.request.path_params["run_id"]
    return await read_or_wait(
        call, lambda: store.get_run(call.tenant_id, run_id), terminal=_is_terminal
    )


async def list_actions(call: Call) -> Response:
    """Runs newest first, filtered by status, connection, action type and id."""
    request = call.request
    params = request.query_params
    filters = RunFilter(
        statuses=tuple(query_choices(request, "status", _STATUSES)),
        connection_id=params.get("connection_id") or None,
        action_type=params.get("action_type") or None,
        ids=tuple(query_ids(request)),
    )
    page = await call.broker.store.list_runs(
        call.tenant_id, filters, limit=page_limit(request, 50, 200), cursor=cursor_param(request)
    )
    return page_response(page.items, page.next_cursor)


async def stream_action(call: Call) -> Response:
    """SSE: the run's current state, then every change, closed after a terminal one."""
    store = call.broker.store
    run_id = call.request.path_params["run_id"]
    run = await store.get_run(call.tenant_id, run_id)
    return snapshot_stream(
        call,
        run,
        lambda: store.get_run(call.tenant_id, run_id),
        kind="action",
        terminal=_is_terminal,
    )


_LIST_PARAMS = (
    Param("status", "query", {"type": "string"}, "Status filter; repeatable or comma-separated."),
    Param("connection_id", "query", {"type": "string"}, "Only runs through this connection."),
    Param("action_type", "query", {"type": "string"}, "Only runs of this action type."),
    Param(
        "id", "query", {"type": "string"}, "Run ids (at most 100); repeatable or comma-separated."
    ),
    limit_param(50, 200),
    CURSOR,
)

OPERATIONS = (
    Operation(
        "POST",
        "/v1/actions",
        "Run an action",
        create_action,
        scopes=("actions:execute",),
        body=ActionRequest,
        responses={201: ActionRun},
        errors=WRITE_ERRORS,
        params=(IDEMPOTENCY_KEY,),
        description="Policies decide: allowed runs execute before the answer, denied ones never "
        "run, the rest wait for a human (`awaiting_approval`, with `approval_id`).",
    ),
    Operation(
        "POST",
        "/v1/actions/batch",
        "Run up to 100 actions, each answered on its own",
        create_batch,
        scopes=("actions:execute",),
        body=ActionBatchCreate,
        responses={200: ActionBatchResponse},
        errors=(*STANDARD_ERRORS, 422),
        params=(IDEMPOTENCY_KEY,),
    ),
    Operation(
        "GET",
        "/v1/actions",
        "List action runs, newest first",
        list_actions,
        scopes=("actions:read",),
        responses={200: Page[ActionRun]},
        errors=STANDARD_ERRORS,
        params=_LIST_PARAMS,
    ),
    Operation(
        "GET",
        "/v1/actions/{run_id}",
        "Get an action run (long-poll with wait)",
        get_action,
        scopes=("actions:read",),
        responses={200: ActionRun},
        errors=STANDARD_ERRORS,
        params=(ID, *long_poll_params("run")),
    ),
    Operation(
        "GET",
        "/v1/actions/{run_id}/events",
        "Stream an action run's changes (SSE)",
        stream_action,
        scopes=("actions:read",),
        stream=True,
        errors=STANDARD_ERRORS,
        params=(ID, LAST_EVENT_ID),
    ),
)
