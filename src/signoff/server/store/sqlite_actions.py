"""Governed execution in SQLite: creating runs as the policies decide (with their approvals),
moving on runs whose approval settled while nobody listened, and a run's evidence.

Each function runs inside one transaction (`Tx`) opened by the store.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...models import ApprovalCreate, RunStatus
from ..ids import new_id
from ..policy import Verdict, evaluate
from .base import (
    IdempotencyHit,
    NewRun,
    NotFound,
    RunCreated,
    RunEvidence,
)
from .sqlite_approvals import approval_from_row, insert_approval
from .sqlite_connections import live_connections
from .sqlite_db import Tx
from .sqlite_events import list_audit_entries_about
from .sqlite_policies import list_all_policies
from .sqlite_runs import get_run, insert_run, released_approvals, settle_for_approval

__all__ = ["create_runs", "settle_released", "run_evidence", "approval_summary"]

_STATUS_OF_EFFECT = {"allow": RunStatus.RUNNING, "deny": RunStatus.DENIED}


def approval_summary(connection_name: str, action: str) -> str:
    """What the approver reads: which action, through which connection."""
    return f"Run {action} through connection {connection_name!r}"


def _create_one(
    tx: Tx, tenant_id: str, new: NewRun, verdict: Verdict, actor: str, default_expires_in: int
) -> RunCreated:
    connection = new.connection
    action = f"{connection.connector}.{new.action_type}"
    rule = verdict.policy
    run_id = new_id("run")
    approval = None
    status = _STATUS_OF_EFFECT.get(verdict.effect, RunStatus.AWAITING_APPROVAL)
    if status == RunStatus.AWAITING_APPROVAL:
        spec = ApprovalCreate(
            action=action,
            summary=approval_summary(connection.name, action),
            arguments=new.input,
            context={"run_id": run_id, "connection_id": connection.id},
            metadata=new.metadata,
        )
        approval = insert_approval(tx, tenant_id, spec, actor, verdict, default_expires_in)
    run = insert_run(
        tx,
        tenant_id,
        run_id=run_id,
        connection_id=connection.id,
        action_type=new.action_type,
        status=status,
        input=new.input,
        metadata=new.metadata,
        outcome=verdict.effect,
        policy_id=rule.id if rule else None,
        approval_id=approval.id if approval else None,
        idempotency_key=new.claim.key if new.claim else None,
        actor=actor,
    )
    # An allowed run's key stays in progress until the execution is recorded (finish_run);
    # every other outcome is the final answer to the request, stored for replay now.
    if status != RunStatus.RUNNING:
        tx.complete(tenant_id, new.claim, run)
    return RunCreated(run, approval)


def create_runs(
    tx: Tx, tenant_id: str, runs: Sequence[NewRun], actor: str, default_expires_in: int
) -> list[RunCreated | IdempotencyHit | NotFound]:
    """Create each run as the policies decide; a key claimed before, or a connection deleted
    since the caller read it, answers for its run only."""
    policies = list_all_policies(tx, tenant_id)
    live = live_connections(tx, tenant_id, [new.connection.id for new in runs])
    results: list[RunCreated | IdempotencyHit | NotFound] = []
    for new in runs:
        if new.connection.id not in live:
            # Checked here, in the write, not only when the request was read: a delete
            # committed in between must not let the action run. Nothing is claimed, as for
            # any request refused before it is accepted.
            results.append(NotFound(new.connection.id))
            continue
        try:
            # A hit raises before this run writes anything, so the others still commit.
            tx.claim(tenant_id, new.claim)
        except IdempotencyHit as hit:
            results.append(hit)
            continue
        action = f"{new.connection.connector}.{new.action_type}"
        verdict = evaluate(policies, action, new.metadata)
        results.append(_create_one(tx, tenant_id, new, verdict, actor, default_expires_in))
    return results


def settle_released(tx: Tx, limit: int) -> int:
    """Move on runs whose approval settled without them following (every tenant)."""
    rows = released_approvals(tx, limit)
    for row in rows:
        settle_for_approval(tx, row["tenant_id"], approval_from_row(row), "system")
    return len(rows)


def run_evidence(tx: Tx, tenant_id: str, run_id: str) -> RunEvidence:
    """A run, its approval and every audit entry about either, from one snapshot."""
    run = get_run(tx, tenant_id, run_id)
    approval = None
    subjects = [run.id]
    if run.approval_id is not None:
        row = tx.execute(
            "SELECT * FROM approvals WHERE tenant_id = ? AND id = ?", (tenant_id, run.approval_id)
        ).fetchone()
        if row is None:
            raise NotFound(run.approval_id)
        approval = approval_from_row(row)
        subjects.append(approval.id)
    entries = list_audit_entries_about(tx, tenant_id, subjects)
    return RunEvidence(run=run, approval=approval, entries=entries)
