"""Approvals in SQLite: create (policies first), compare-and-set decisions, expiry, reads.

Each function runs inside one transaction (`Tx`) opened by `SQLiteStore`.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

import msgspec

from ...models import Approval, ApprovalCreate, ApprovalStatus, Policy
from ..ids import new_id, parse_ts
from ..policy import Verdict, evaluate
from .base import (
    ApprovalFilter,
    ApprovalWrite,
    IdempotencyClaim,
    NotFound,
    NotPending,
    PageResult,
)
from .sqlite_db import Tx
from .sqlite_policies import list_all_policies
from .sqlite_rows import dumps, loads, newest_first, opt_ts, ts
from .sqlite_runs import settle_for_approval

__all__ = [
    "approval_from_row",
    "create_approval",
    "insert_approval",
    "get_approval",
    "list_approvals",
    "set_outcome",
    "expire_due",
    "next_expiry",
    "is_due",
]

_STATUS_EVENT = {
    "approved": "approval.approved",
    "denied": "approval.denied",
    "expired": "approval.expired",
    "cancelled": "approval.cancelled",
}


def approval_from_row(row: sqlite3.Row) -> Approval:
    """The wire model of an approvals row."""
    return Approval(
        id=row["id"],
        status=ApprovalStatus(row["status"]),
        action=row["action"],
        version=row["version"],
        created_at=parse_ts(row["created_at"]),
        updated_at=parse_ts(row["updated_at"]),
        summary=row["summary"],
        reason=row["reason"],
        function_name=row["function_name"],
        arguments=loads(row["arguments"]),
        context=loads(row["context"]),
        metadata=loads(row["metadata"]),
        expires_at=opt_ts(row["expires_at"]),
        callback_url=row["callback_url"],
        dedup_key=row["dedup_key"],
        approver_group=row["approver_group"],
        policy_id=row["policy_id"],
        requested_by=row["requested_by"],
        decided_by=row["decided_by"],
        decided_at=opt_ts(row["decided_at"]),
        comment=row["comment"],
    )


def _snapshot(approval: Approval) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(approval)
    return data


def is_due(tx: Tx, row: sqlite3.Row) -> bool:
    """True for a pending approval whose expiry has come."""
    return (
        row["status"] == "pending"
        and row["expires_at"] is not None
        and row["expires_at"] <= ts(tx.now)
    )


def _expire_rows(tx: Tx, rows: list[sqlite3.Row]) -> int:
    count = 0
    now = ts(tx.now)
    for row in rows:
        updated = tx.execute(
            "UPDATE approvals SET status = 'expired', version = version + 1, updated_at = ?,"
            " decided_by = 'system', decided_at = ? WHERE pos = ? AND status = 'pending'"
            " RETURNING *",
            (now, now, row["pos"]),
        ).fetchone()
        if updated is not None:
            approval = approval_from_row(updated)
            tenant_id = updated["tenant_id"]
            tx.append_event(
                tenant_id, "approval.expired", approval.id, "system", _snapshot(approval)
            )
            settle_for_approval(tx, tenant_id, approval, "system")
            count += 1
    return count


def expire_due(tx: Tx, limit: int, tenant_id: str | None = None) -> int:
    """Expire pending approvals past their time (of one tenant, or all); returns how many."""
    sql = "SELECT pos, tenant_id FROM approvals WHERE status = 'pending' AND expires_at <= ?"
    params: list[Any] = [ts(tx.now)]
    if tenant_id is not None:
        sql += " AND tenant_id = ?"
        params.append(tenant_id)
    sql += " ORDER BY expires_at LIMIT ?"
    params.append(limit)
    return _expire_rows(tx, tx.execute(sql, params).fetchall())


def next_expiry(tx: Tx) -> str | None:
    """The stored text of the earliest pending expiry."""
    row = tx.execute("SELECT MIN(expires_at) FROM approvals WHERE status = 'pending'").fetchone()
    return None if row is None else row[0]


def _select(tx: Tx, tenant_id: str, approval_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = tx.execute(
        "SELECT * FROM approvals WHERE tenant_id = ? AND id = ?", (tenant_id, approval_id)
    ).fetchone()
    return row


def get_approval(tx: Tx, tenant_id: str, approval_id: str) -> tuple[Approval, bool]:
    """One approval and whether it is pending past its expiry (the caller expires it)."""
    row = _select(tx, tenant_id, approval_id)
    if row is None:
        raise NotFound(approval_id)
    return approval_from_row(row), is_due(tx, row)


def expire_one(tx: Tx, tenant_id: str, approval_id: str) -> None:
    """Expire one approval if it is pending and due."""
    row = _select(tx, tenant_id, approval_id)
    if row is not None and is_due(tx, row):
        _expire_rows(tx, [row])


def create_approval(
    tx: Tx,
    tenant_id: str,
    spec: ApprovalCreate,
    actor: str,
    default_expires_in: int,
    claim: IdempotencyClaim[ApprovalWrite] | None,
) -> ApprovalWrite:
    """Create an approval as the policies decide, or return the pending one with its dedup_key."""
    tx.claim(tenant_id, claim)
    if spec.dedup_key is not None:
        existing = tx.execute(
            "SELECT * FROM approvals WHERE tenant_id = ? AND dedup_key = ? AND status = 'pending'",
            (tenant_id, spec.dedup_key),
        ).fetchone()
        if existing is not None and is_due(tx, existing):
            _expire_rows(tx, [existing])
        elif existing is not None:
            result = ApprovalWrite(approval_from_row(existing), created=False)
            tx.complete(tenant_id, claim, result)
            return result

    verdict = evaluate(list_all_policies(tx, tenant_id), spec.action, dict(spec.metadata or {}))
    approval = insert_approval(tx, tenant_id, spec, actor, verdict, default_expires_in)
    result = ApprovalWrite(approval, created=True)
    tx.complete(tenant_id, claim, result)
    return result


def insert_approval(
    tx: Tx,
    tenant_id: str,
    spec: ApprovalCreate,
    actor: str,
    verdict: Verdict,
    default_expires_in: int,
) -> Approval:
    """Insert an approval as ``verdict`` decided it and append ``approval.created``: already
    settled for ``allow`` or ``deny``, else pending until its expiry."""
    metadata = dict(spec.metadata or {})
    rule: Policy | None = verdict.policy
    now = ts(tx.now)
    status, decided_by, decided_at, expires_at = "pending", None, None, None
    if verdict.effect == "allow" or verdict.effect == "deny":
        status = "approved" if verdict.effect == "allow" else "denied"
        decided_by = f"policy:{rule.id}" if rule is not None else "policy"
        decided_at = now
    else:
        seconds = spec.expires_in or (rule.expires_in if rule else None) or default_expires_in
        expires_at = ts(tx.now + timedelta(seconds=seconds))
    row = tx.execute(
        "INSERT INTO approvals (id, tenant_id, status, action, version, created_at, updated_at,"
        " summary, reason, function_name, arguments, context, metadata, expires_at,"
        " callback_url, dedup_key, approver_group, policy_id, requested_by, decided_by,"
        " decided_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " RETURNING *",
        (
            new_id("apr"),
            tenant_id,
            status,
            spec.action,
            now,
            now,
            spec.summary,
            spec.reason,
            spec.function_name,
            None if spec.arguments is None else dumps(spec.arguments),
            None if spec.context is None else dumps(spec.context),
            dumps(metadata),
            expires_at,
            spec.callback_url,
            spec.dedup_key,
            rule.approver_group if rule else None,
            rule.id if rule else None,
            actor,
            decided_by,
            decided_at,
        ),
    ).fetchone()
    approval = approval_from_row(row)
    tx.append_event(tenant_id, "approval.created", approval.id, actor, _snapshot(approval))
    return approval


def set_outcome(
    tx: Tx,
    tenant_id: str,
    approval_id: str,
    status: str,
    comment: str | None,
    actor: str,
    claim: IdempotencyClaim[Approval] | None,
) -> Approval:
    """Compare-and-set a pending approval to a terminal status (decision or cancel)."""
    tx.claim(tenant_id, claim)
    expire_one(tx, tenant_id, approval_id)
    now = ts(tx.now)
    row = tx.execute(
        "UPDATE approvals SET status = ?, version = version + 1, updated_at = ?, decided_by = ?,"
        " decided_at = ?, comment = ? WHERE tenant_id = ? AND id = ? AND status = 'pending'"
        " RETURNING *",
        (status, now, actor, now, comment, tenant_id, approval_id),
    ).fetchone()
    if row is None:
        current = _select(tx, tenant_id, approval_id)
        if current is None:
            raise NotFound(approval_id)
        raise NotPending(approval_from_row(current))
    approval = approval_from_row(row)
    tx.append_event(tenant_id, _STATUS_EVENT[status], approval.id, actor, _snapshot(approval))
    settle_for_approval(tx, tenant_id, approval, actor)
    tx.complete(tenant_id, claim, approval)
    return approval


def list_approvals(
    tx: Tx, tenant_id: str, filters: ApprovalFilter, limit: int, cursor: str | None
) -> PageResult[Approval]:
    """A page of approvals, newest first."""
    return newest_first(
        tx,
        "approvals",
        tenant_id,
        approval_from_row,
        kind="apr",
        limit=limit,
        cursor=cursor,
        equal={"action": filters.action},
        any_of={"status": filters.statuses, "id": filters.ids},
    )


def has_due(tx: Tx, tenant_id: str) -> bool:
    """True when some pending approval of the tenant is past its expiry."""
    row = tx.execute(
        "SELECT 1 FROM approvals WHERE status = 'pending' AND expires_at <= ? AND tenant_id = ?"
        " LIMIT 1",
        (ts(tx.now), tenant_id),
    ).fetchone()
    return row is not None
