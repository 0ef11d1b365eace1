"""Policies in SQLite."""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec

from ...models import Policy, PolicyCreate, PolicyEffect
from ..ids import new_id, parse_ts
from .base import IdempotencyClaim, NotFound, PageResult
from .sqlite_db import Tx
from .sqlite_rows import decode_cursor, dumps, loads, page_of, ts

__all__ = [
    "policy_from_row",
    "create_policy",
    "list_policies",
    "list_all_policies",
    "delete_policy",
]

# Evaluation order: priority high to low, then oldest first.
_ORDER = "ORDER BY priority DESC, pos ASC"


def policy_from_row(row: sqlite3.Row) -> Policy:
    """The wire model of a policies row."""
    return Policy(
        id=row["id"],
        action=row["action"],
        effect=PolicyEffect(row["effect"]),
        priority=row["priority"],
        created_at=parse_ts(row["created_at"]),
        name=row["name"],
        metadata=loads(row["metadata"]),
        approver_group=row["approver_group"],
        expires_in=row["expires_in"],
    )


def create_policy(
    tx: Tx, tenant_id: str, spec: PolicyCreate, actor: str, claim: IdempotencyClaim[Policy] | None
) -> Policy:
    """Add a rule and append ``policy.created``."""
    tx.claim(tenant_id, claim)
    row = tx.execute(
        "INSERT INTO policies (id, tenant_id, name, action, effect, priority, metadata,"
        " approver_group, expires_in, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " RETURNING *",
        (
            new_id("pol"),
            tenant_id,
            spec.name,
            spec.action,
            spec.effect,
            spec.priority,
            dumps(dict(spec.metadata or {})),
            spec.approver_group,
            spec.expires_in,
            ts(tx.now),
        ),
    ).fetchone()
    policy = policy_from_row(row)
    tx.append_event(tenant_id, "policy.created", policy.id, actor, msgspec.to_builtins(policy))
    tx.complete(tenant_id, claim, policy)
    return policy


def list_all_policies(tx: Tx, tenant_id: str) -> list[Policy]:
    """Every rule of the tenant, in evaluation order."""
    rows = tx.execute(f"SELECT * FROM policies WHERE tenant_id = ? {_ORDER}", (tenant_id,))
    return [policy_from_row(row) for row in rows]


def list_policies(tx: Tx, tenant_id: str, limit: int, cursor: str | None) -> PageResult[Policy]:
    """A page of rules in evaluation order."""
    sql = "SELECT * FROM policies WHERE tenant_id = ?"
    params: list[Any] = [tenant_id]
    if cursor is not None:
        priority, pos = decode_cursor("pol", cursor, 2)
        sql += " AND (priority < ? OR (priority = ? AND pos > ?))"
        params.extend([priority, priority, pos])
    rows = tx.execute(f"{sql} {_ORDER} LIMIT ?", [*params, limit + 1]).fetchall()
    return page_of(rows, limit, policy_from_row, kind="pol", position=("priority", "pos"))


def delete_policy(tx: Tx, tenant_id: str, policy_id: str, actor: str) -> Policy:
    """Remove a rule and append ``policy.deleted``."""
    row = tx.execute(
        "DELETE FROM policies WHERE tenant_id = ? AND id = ? RETURNING *", (tenant_id, policy_id)
    ).fetchone()
    if row is None:
        raise NotFound(policy_id)
    policy = policy_from_row(row)
    tx.append_event(tenant_id, "policy.deleted", policy.id, actor, msgspec.to_builtins(policy))
    return policy
