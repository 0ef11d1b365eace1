"""Tenants and API keys in SQLite."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import msgspec

from ..._chain import GENESIS_HASH
from ...models import ApiKey
from ..ids import new_id, parse_ts
from .base import (
    ApiKeyRecord,
    DuplicateName,
    IdempotencyClaim,
    NewApiKey,
    NotFound,
    PageResult,
    Tenant,
)
from .sqlite_db import Tx
from .sqlite_rows import decode_cursor, loads, opt_ts, page_of, ts

__all__ = [
    "create_tenant",
    "get_tenant_by_name",
    "list_tenants",
    "key_from_row",
    "create_api_key",
    "get_api_key",
    "list_api_keys",
    "revoke_api_key",
    "touch_api_key",
]


def _tenant(row: sqlite3.Row) -> Tenant:
    return Tenant(id=row["id"], name=row["name"], created_at=parse_ts(row["created_at"]))


def create_tenant(tx: Tx, name: str) -> Tenant:
    """Add a tenant with an empty event log."""
    row = tx.execute(
        "INSERT INTO tenants (id, name, created_at, last_seq, last_hash) VALUES (?, ?, ?, 0, ?)"
        " ON CONFLICT (name) DO NOTHING RETURNING *",
        (new_id("tnt"), name, ts(tx.now), GENESIS_HASH),
    ).fetchone()
    if row is None:
        raise DuplicateName(name)
    return _tenant(row)


def get_tenant_by_name(tx: Tx, name: str) -> Tenant | None:
    """A tenant by its unique name."""
    row = tx.execute("SELECT * FROM tenants WHERE name = ?", (name,)).fetchone()
    return None if row is None else _tenant(row)


def list_tenants(tx: Tx) -> list[Tenant]:
    """Every tenant, oldest first."""
    return [_tenant(row) for row in tx.execute("SELECT * FROM tenants ORDER BY created_at, id")]


def key_from_row(row: sqlite3.Row) -> ApiKeyRecord:
    """The stored record of an api_keys row."""
    return ApiKeyRecord(
        id=row["id"],
        tenant_id=row["tenant_id"],
        name=row["name"],
        scopes=tuple(loads(row["scopes"])),
        secret_hash=row["secret_hash"],
        prefix=row["prefix"],
        created_at=parse_ts(row["created_at"]),
        created_by=row["created_by"],
        expires_at=opt_ts(row["expires_at"]),
        revoked_at=opt_ts(row["revoked_at"]),
        last_used_at=opt_ts(row["last_used_at"]),
    )


def create_api_key(
    tx: Tx, tenant_id: str, key: NewApiKey, actor: str, claim: IdempotencyClaim[ApiKey] | None
) -> ApiKey:
    """Store a key's hash and append ``api_key.created`` (the event carries no secret)."""
    tx.claim(tenant_id, claim)
    row = tx.execute(
        "INSERT INTO api_keys (id, tenant_id, name, scopes, secret_hash, prefix, created_by,"
        " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (
            key.id,
            tenant_id,
            key.name,
            msgspec.json.encode(list(key.scopes)).decode(),
            key.secret_hash,
            key.prefix,
            actor,
            ts(tx.now),
            None if key.expires_at is None else ts(key.expires_at),
        ),
    ).fetchone()
    public = key_from_row(row).public()
    tx.append_event(tenant_id, "api_key.created", public.id, actor, msgspec.to_builtins(public))
    tx.complete(tenant_id, claim, public)
    return public


def get_api_key(tx: Tx, key_id: str) -> ApiKeyRecord | None:
    """A key's record by id."""
    row = tx.execute("SELECT * FROM api_keys WHERE id = ?", (key_id,)).fetchone()
    return None if row is None else key_from_row(row)


def list_api_keys(tx: Tx, tenant_id: str, limit: int, cursor: str | None) -> PageResult[ApiKey]:
    """A page of the tenant's keys, oldest first."""
    after = 0
    if cursor is not None:
        (after,) = decode_cursor("key", cursor, 1)
    rows = tx.execute(
        "SELECT * FROM api_keys WHERE tenant_id = ? AND pos > ? ORDER BY pos LIMIT ?",
        (tenant_id, after, limit + 1),
    ).fetchall()
    return page_of(rows, limit, lambda row: key_from_row(row).public(), kind="key")


def revoke_api_key(tx: Tx, tenant_id: str, key_id: str, actor: str) -> ApiKey:
    """Revoke a key; revoking it again changes nothing."""
    row = tx.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL"
        " RETURNING *",
        (ts(tx.now), tenant_id, key_id),
    ).fetchone()
    if row is None:
        row = tx.execute(
            "SELECT * FROM api_keys WHERE tenant_id = ? AND id = ?", (tenant_id, key_id)
        ).fetchone()
        if row is None:
            raise NotFound(key_id)
        return key_from_row(row).public()
    public = key_from_row(row).public()
    tx.append_event(tenant_id, "api_key.revoked", public.id, actor, msgspec.to_builtins(public))
    return public


def touch_api_key(tx: Tx, key_id: str, used_at: datetime) -> None:
    """Record a key's last use."""
    tx.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (ts(used_at), key_id))
