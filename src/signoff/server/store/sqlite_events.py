"""The event log in SQLite: pages after a cursor, the head, and the audit chain's entries."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ...models import AuditEntry, Event
from ..ids import parse_ts
from .base import AuditFilter, AuditHead, EventSlice, LogPosition, NotFound
from .sqlite_db import Tx
from .sqlite_rows import loads, ts

__all__ = [
    "list_events",
    "log_position",
    "audit_entry_from_row",
    "list_audit_entries",
    "list_audit_entries_about",
    "audit_head",
    "glob_to_sqlite",
]


def glob_to_sqlite(pattern: str) -> str:
    """A GLOB operand in which only ``*`` and ``?`` are special (``[`` is taken literally)."""
    return pattern.replace("[", "[[]")


def _event(row: sqlite3.Row) -> Event:
    return Event(
        id=row["id"],
        seq=row["seq"],
        type=row["type"],
        subject_id=row["subject_id"],
        created_at=parse_ts(row["created_at"]),
        actor=row["actor"],
        data=loads(row["data"]),
    )


def _any_glob(patterns: Sequence[str], params: list[Any]) -> str:
    params.extend(glob_to_sqlite(p) for p in patterns)
    return "(" + " OR ".join("type GLOB ?" for _ in patterns) + ")"


def head_seq(tx: Tx, tenant_id: str) -> int:
    """The seq of the tenant's latest event (0 for an empty log)."""
    row = tx.execute("SELECT last_seq FROM tenants WHERE id = ?", (tenant_id,)).fetchone()
    return 0 if row is None else int(row[0])


def list_events(
    tx: Tx,
    tenant_id: str,
    after: int,
    patterns: Sequence[str],
    visible: Sequence[str] | None,
    limit: int,
) -> EventSlice:
    """Matching events after a cursor, and where the next read should start."""
    head = head_seq(tx, tenant_id)
    sql = "SELECT * FROM events WHERE tenant_id = ? AND seq > ?"
    params: list[Any] = [tenant_id, after]
    if patterns:
        sql += " AND " + _any_glob(patterns, params)
    if visible is not None:
        if not visible:
            return EventSlice([], max(after, head))
        sql += " AND " + _any_glob(visible, params)
    sql += " ORDER BY seq LIMIT ?"
    params.append(limit)
    events = [_event(row) for row in tx.execute(sql, params)]
    cursor = events[-1].seq if len(events) == limit else max(after, head)
    return EventSlice(events, cursor)


def log_position(tx: Tx, tenant_id: str, cursor: int, horizon: datetime) -> LogPosition:
    """The head and what follows ``cursor``; the window's oldest seq only when it is needed."""
    head = head_seq(tx, tenant_id)
    row = tx.execute(
        "SELECT created_at FROM events WHERE tenant_id = ? AND seq = ?", (tenant_id, cursor + 1)
    ).fetchone()
    next_created_at = None if row is None else parse_ts(row[0])
    oldest = None
    if next_created_at is not None and next_created_at < horizon:
        found = tx.execute(
            "SELECT MIN(seq) FROM events WHERE tenant_id = ? AND created_at >= ?",
            (tenant_id, ts(horizon)),
        ).fetchone()
        oldest = None if found is None else found[0]
    return LogPosition(head_seq=head, next_created_at=next_created_at, oldest_seq_in_window=oldest)


def audit_entry_from_row(row: sqlite3.Row) -> AuditEntry:
    """The audit entry of an events row: the event with its hashes (hex)."""
    return AuditEntry(
        tenant_id=row["tenant_id"],
        id=row["id"],
        seq=row["seq"],
        type=row["type"],
        subject_id=row["subject_id"],
        created_at=parse_ts(row["created_at"]),
        prev_hash=bytes(row["prev_hash"]).hex(),
        hash=bytes(row["hash"]).hex(),
        actor=row["actor"],
        data=loads(row["data"]),
    )


def list_audit_entries(
    tx: Tx, tenant_id: str, after: int, limit: int, filters: AuditFilter | None = None
) -> list[AuditEntry]:
    """Events with their hashes after a seq, in seq order, optionally filtered."""
    sql = "SELECT * FROM events WHERE tenant_id = ? AND seq > ?"
    params: list[Any] = [tenant_id, after]
    if filters is not None:
        if filters.since is not None:
            sql += " AND created_at >= ?"
            params.append(ts(filters.since))
        if filters.type is not None:
            sql += " AND type GLOB ?"
            params.append(glob_to_sqlite(filters.type))
        if filters.subject_ids:
            sql += f" AND subject_id IN ({', '.join('?' * len(filters.subject_ids))})"
            params.extend(filters.subject_ids)
    sql += " ORDER BY seq LIMIT ?"
    params.append(limit)
    return [audit_entry_from_row(row) for row in tx.execute(sql, params)]


def list_audit_entries_about(
    tx: Tx, tenant_id: str, subject_ids: Sequence[str]
) -> list[AuditEntry]:
    """Every entry about any of the subjects, in seq order (a run's evidence: a handful)."""
    marks = ", ".join("?" * len(subject_ids))
    rows = tx.execute(
        f"SELECT * FROM events WHERE tenant_id = ? AND subject_id IN ({marks}) ORDER BY seq",
        (tenant_id, *subject_ids),
    )
    return [audit_entry_from_row(row) for row in rows]


def audit_head(tx: Tx, tenant_id: str) -> AuditHead:
    """The chain's end as the tenant row records it; `NotFound` for an unknown tenant."""
    row = tx.execute(
        "SELECT last_seq, last_hash FROM tenants WHERE id = ?", (tenant_id,)
    ).fetchone()
    if row is None:
        raise NotFound(tenant_id)
    return AuditHead(seq=int(row[0]), hash=bytes(row[1]).hex())
