"""Governed execution of action requests, one or a batch: check each against its connection,
let the policies decide, execute what they allow, and answer each request on its own.

One request and a batch item take the same path, and a batch takes it for all its items at
once, in as few transactions as correctness allows: one read of the connections, one write
that checks again that each connection is live, claims every ``Idempotency-Key`` and creates
every run (with the approvals they need), the allowed executions side by side (bounded by
the executor), and one write recording how they ended (which also completes their keys, so
a retry replays the finished run).

A key is claimed with its run, so one key is one execution: a retry while the run executes
answers 409 ``idempotency_request_in_progress``; a retry after it replays the stored answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import anyio
import msgspec

from ..models import ActionRequest, ActionRun, RunStatus
from .http import ApiError
from .idempotency import claim_for, fingerprint_value, replay
from .operation import Call
from .schemas import validate_input
from .store.base import (
    RUN_RESPONSE_STATUS,
    ConnectionRecord,
    IdempotencyClaim,
    IdempotencyHit,
    NewRun,
    NotFound,
    RunCreated,
    RunFinish,
)

__all__ = ["Submission", "ActionAnswer", "submit", "RUNS_PATH"]

#: The path a single action request is posted to; batch items are fingerprinted as if they
#: had been posted there, so an item and a single request with the same key are the same.
RUNS_PATH = "/v1/actions"
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class Submission:
    """One action request and its ``Idempotency-Key`` (if any)."""

    request: ActionRequest
    key: str | None = None


@dataclass(frozen=True)
class ActionAnswer:
    """The answer to one action request: a status with the run, or an error. ``replayed``
    holds the stored body when the answer is a replay (sent back byte for byte)."""

    status: int
    run: ActionRun | None = None
    error: ApiError | None = None
    replayed: bytes | None = None


def _respond(run: ActionRun) -> tuple[int, bytes]:
    return RUN_RESPONSE_STATUS, _encoder.encode(run)


def _no_connection(connection_id: str) -> ApiError:
    return ApiError(404, "not_found", f"connection {connection_id} not found")


def _check(call: Call, item: Submission, connections: dict[str, ConnectionRecord]) -> NewRun:
    """The run to create for a request; `ApiError` (404/422) when it cannot be one."""
    request = item.request
    connection = connections.get(request.connection_id)
    if connection is None:
        raise _no_connection(request.connection_id)
    types = call.broker.connectors.action_types(connection)
    if types is None:
        raise ApiError(
            422,
            "validation_error",
            f"connection {connection.id} uses the connector {connection.connector!r}, "
            "which is not installed on this broker",
            {"path": "$.connection_id"},
        )
    action_type = types.get(request.action_type)
    if action_type is None:
        raise ApiError(
            404,
            "not_found",
            f"connection {connection.id} has no action type {request.action_type!r} "
            f"(it has {', '.join(sorted(types)) or 'none'})",
        )
    problem = validate_input(action_type.input_schema, request.input)
    if problem is not None:
        raise ApiError(
            422,
            "validation_error",
            f"input does not match the input_schema of {action_type.name!r} at "
            f"{problem.path}: {problem.message}",
            {"path": problem.path},
        )
    claim: IdempotencyClaim[ActionRun] | None = None
    if item.key is not None:
        digest = fingerprint_value("POST", RUNS_PATH, msgspec.to_builtins(request))
        claim = claim_for(call, item.key, digest, _respond, path=RUNS_PATH)
    return NewRun(
        connection=connection,
        action_type=request.action_type,
        input=request.input,
        metadata=dict(request.metadata or {}),
        claim=claim,
    )


def _answer_hit(hit: IdempotencyHit, claim: IdempotencyClaim[ActionRun] | None) -> ActionAnswer:
    assert claim is not None  # only a claimed key can be hit
    try:
        status, body = replay(hit.record, claim)
    except ApiError as error:
        return ActionAnswer(error.status, error=error)
    return ActionAnswer(status, run=msgspec.json.decode(body, type=ActionRun), replayed=body)


async def submit(call: Call, items: Sequence[Submission]) -> list[ActionAnswer]:
    """Answer each request, in order; one bad request never fails the others."""
    broker, tenant_id = call.broker, call.tenant_id
    wanted = list(dict.fromkeys(item.request.connection_id for item in items))
    connections = await broker.store.get_connections(tenant_id, wanted)

    answers: list[ActionAnswer | None] = [None] * len(items)
    checked: list[tuple[int, NewRun]] = []
    for index, item in enumerate(items):
        try:
            checked.append((index, _check(call, item, connections)))
        except ApiError as error:
            # Refused before anything is claimed: fixing the request and retrying it with
            # the same key works.
            answers[index] = ActionAnswer(error.status, error=error)

    created = await broker.store.create_runs(
        tenant_id,
        [new for _, new in checked],
        actor=call.auth.key_id,
        default_expires_in=broker.config.default_expires_in,
    )
    allowed: list[tuple[int, RunCreated, ConnectionRecord]] = []
    for (index, new), outcome in zip(checked, created, strict=True):
        if isinstance(outcome, NotFound):  # deleted after the check above
            gone = _no_connection(new.connection.id)
            answers[index] = ActionAnswer(gone.status, error=gone)
        elif isinstance(outcome, IdempotencyHit):
            answers[index] = _answer_hit(outcome, new.claim)
        elif outcome.run.status == RunStatus.RUNNING:
            allowed.append((index, outcome, new.connection))
        else:
            if outcome.approval is not None:
                broker.sweeper.notice(outcome.approval.expires_at)
            answers[index] = ActionAnswer(RUN_RESPONSE_STATUS, run=outcome.run)

    if allowed:
        finishes: list[RunFinish | None] = [None] * len(allowed)

        async def execute(slot: int, outcome: RunCreated, connection: ConnectionRecord) -> None:
            finishes[slot] = await broker.executor.execute(tenant_id, outcome.run, connection)

        async with anyio.create_task_group() as tasks:
            for slot, (_, outcome, connection) in enumerate(allowed):
                tasks.start_soon(execute, slot, outcome, connection)
        finished = await broker.store.finish_runs([f for f in finishes if f is not None])
        for (index, _, _), run in zip(allowed, finished, strict=True):
            answers[index] = ActionAnswer(RUN_RESPONSE_STATUS, run=run)

    assert all(answer is not None for answer in answers)
    return [answer for answer in answers if answer is not None]
