"""Connections in SQLite: a connector bound to its config and write-only secrets.

The ``secrets`` column is read into `ConnectionRecord` for the executor only; events and
answers carry `ConnectionRecord.public` (secret names, never values).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import msgspec

from ...models import Connection
from ..ids import new_id, parse_ts
from .base import (
    ConnectionRecord,
    DuplicateName,
    IdempotencyClaim,
    NewConnection,
    NotFound,
    PageResult,
)
from .sqlite_db import Tx
from .sqlite_rows import decode_cursor, dumps, loads, opt_ts, page_of, ts

__all__ = [
    "connection_from_row",
    "create_connection",
    "get_connection",
    "get_connections",
    "live_connections",
    "list_connections",
    "delete_connection",
]


def connection_from_row(row: sqlite3.Row) -> ConnectionRecord:
    """The stored record of a connections row, secrets included."""
    return ConnectionRecord(
        id=row["id"],
        tenant_id=row["tenant_id"],
        name=row["name"],
        connector=row["connector"],
        config=loads(row["config"]),
        secrets=loads(row["secrets"]),
        created_at=parse_ts(row["created_at"]),
        deleted_at=opt_ts(row["deleted_at"]),
    )


def _snapshot(connection: Connection) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(connection)
    return data


def create_connection(
    tx: Tx,
    tenant_id: str,
    spec: NewConnection,
    actor: str,
    claim: IdempotencyClaim[Connection] | None,
) -> Connection:
    """Store a connection and append ``connection.created``."""
    tx.claim(tenant_id, claim)
    row = tx.execute(
        "INSERT INTO connections (id, tenant_id, name, connector, config, secrets, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (tenant_id, name) WHERE deleted_at IS NULL DO NOTHING RETURNING *",
        (
            new_id("con"),
            tenant_id,
            spec.name,
            spec.connector,
            dumps(spec.config),
            dumps(spec.secrets),
            ts(tx.now),
        ),
    ).fetchone()
    if row is None:
        raise DuplicateName(f"connection {spec.name!r}")
    public = connection_from_row(row).public()
    tx.append_event(tenant_id, "connection.created", public.id, actor, _snapshot(public))
    tx.complete(tenant_id, claim, public)
    return public


def get_connection(
    tx: Tx, tenant_id: str, connection_id: str, include_deleted: bool
) -> ConnectionRecord:
    """One connection; `NotFound` if unknown, or deleted unless ``include_deleted``."""
    row = tx.execute(
        "SELECT * FROM connections WHERE tenant_id = ? AND id = ?", (tenant_id, connection_id)
    ).fetchone()
    if row is None or (row["deleted_at"] is not None and not include_deleted):
        raise NotFound(connection_id)
    return connection_from_row(row)


def get_connections(
    tx: Tx, tenant_id: str, connection_ids: Sequence[str]
) -> dict[str, ConnectionRecord]:
    """The live connections among the ids."""
    if not connection_ids:
        return {}
    marks = ", ".join("?" * len(connection_ids))
    rows = tx.execute(
        f"SELECT * FROM connections WHERE tenant_id = ? AND id IN ({marks}) AND deleted_at IS NULL",
        (tenant_id, *connection_ids),
    )
    return {row["id"]: connection_from_row(row) for row in rows}


def live_connections(tx: Tx, tenant_id: str, connection_ids: Sequence[str]) -> set[str]:
    """Which of the ids name a live (not deleted) connection of the tenant."""
    wanted = list(dict.fromkeys(connection_ids))
    if not wanted:
        return set()
    marks = ", ".join("?" * len(wanted))
    rows = tx.execute(
        f"SELECT id FROM connections WHERE tenant_id = ? AND id IN ({marks})"
        " AND deleted_at IS NULL",
        (tenant_id, *wanted),
    )
    return {row["id"] for row in rows}


def list_connections(
    tx: Tx, tenant_id: str, limit: int, cursor: str | None
) -> PageResult[Connection]:
    """A page of live connections, oldest first."""
    after = 0
    if cursor is not None:
        (after,) = decode_cursor("con", cursor, 1)
    rows = tx.execute(
        "SELECT * FROM connections WHERE tenant_id = ? AND deleted_at IS NULL AND pos > ?"
        " ORDER BY pos LIMIT ?",
        (tenant_id, after, limit + 1),
    ).fetchall()
    return page_of(rows, limit, lambda row: connection_from_row(row).public(), kind="con")


def delete_connection(tx: Tx, tenant_id: str, connection_id: str, actor: str) -> Connection:
    """Mark a connection deleted and append ``connection.deleted``."""
    row = tx.execute(
        "UPDATE connections SET deleted_at = ? WHERE tenant_id = ? AND id = ?"
        " AND deleted_at IS NULL RETURNING *",
        (ts(tx.now), tenant_id, connection_id),
    ).fetchone()
    if row is None:
        raise NotFound(connection_id)
    public = connection_from_row(row).public()
    tx.append_event(tenant_id, "connection.deleted", public.id, actor, _snapshot(public))
    return public
