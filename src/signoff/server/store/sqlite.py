"""`SQLiteStore`: the `Store` on stdlib ``sqlite3`` (the embedded default).

One connection in WAL mode with ``synchronous=FULL`` (a committed decision survives a power
cut), ``BEGIN IMMEDIATE`` for every write (no ``SQLITE_BUSY`` on a read-to-write upgrade), and
one worker-thread hop per transaction. The SQL lives in the ``sqlite_*`` modules beside this.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime

from ...models import (
    ApiKey,
    Approval,
    ApprovalCreate,
    AuditEntry,
    Policy,
    PolicyCreate,
)
from ..ids import parse_ts, utcnow
from . import (
    sqlite_approvals as approvals,
    sqlite_events as events,
    sqlite_keys as keys,
    sqlite_policies as policies,
)
from .base import (
    ApiKeyRecord,
    ApprovalFilter,
    ApprovalWrite,
    AuditFilter,
    EventSlice,
    IdempotencyClaim,
    LogPosition,
    NewApiKey,
    PageResult,
    Tenant,
)
from .sqlite_db import Database, Tx
from .sqlite_governed import GovernedStoreMethods
from .sqlite_migrate import schema_version
from .sqlite_rows import ts

__all__ = ["SQLiteStore"]


class SQLiteStore(GovernedStoreMethods):
    """The broker's storage in one SQLite file (governed execution in `GovernedStoreMethods`)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], datetime] = utcnow,
        idempotency_ttl: float = 86_400.0,
        on_commit: Callable[[str, int], None] | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self._db = Database(
            self.path, clock=clock, idempotency_ttl=idempotency_ttl, on_commit=on_commit
        )

    def subscribe(self, callback: Callable[[str, int], None]) -> None:
        """Call ``callback(tenant_id, seq)`` after each commit that appended events."""
        self._db.on_commit = callback

    async def open(self) -> None:
        """Connect and migrate."""
        await self._db.open()

    async def close(self) -> None:
        """Close the connection; idempotent."""
        await self._db.close()

    async def schema_version(self) -> int:
        """The highest migration applied."""
        return await self._db.read(lambda tx: schema_version(tx.conn))

    # tenants

    async def create_tenant(self, name: str, *, first_key: NewApiKey | None = None) -> Tenant:
        """Add a tenant (with its first key, in the same transaction)."""

        def create(tx: Tx) -> Tenant:
            tenant = keys.create_tenant(tx, name)
            if first_key is not None:
                keys.create_api_key(tx, tenant.id, first_key, "system", None)
            return tenant

        return await self._db.write(create)

    async def get_tenant_by_name(self, name: str) -> Tenant | None:
        """Find a tenant by name."""
        return await self._db.read(lambda tx: keys.get_tenant_by_name(tx, name))

    # API keys

    async def create_api_key(
        self,
        tenant_id: str,
        key: NewApiKey,
        *,
        actor: str,
        claim: IdempotencyClaim[ApiKey] | None = None,
    ) -> ApiKey:
        """Store a new key's hash."""
        return await self._db.write(
            lambda tx: keys.create_api_key(tx, tenant_id, key, actor, claim)
        )

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """A key's record by id."""
        return await self._db.read(lambda tx: keys.get_api_key(tx, key_id))

    async def list_api_keys(
        self, tenant_id: str, *, limit: int, cursor: str | None
    ) -> PageResult[ApiKey]:
        """A page of keys."""
        return await self._db.read(lambda tx: keys.list_api_keys(tx, tenant_id, limit, cursor))

    async def revoke_api_key(self, tenant_id: str, key_id: str, *, actor: str) -> ApiKey:
        """Revoke a key."""
        return await self._db.write(lambda tx: keys.revoke_api_key(tx, tenant_id, key_id, actor))

    async def touch_api_key(self, key_id: str, used_at: datetime) -> None:
        """Record a key's last use."""
        await self._db.write(lambda tx: keys.touch_api_key(tx, key_id, used_at))

    # policies

    async def create_policy(
        self,
        tenant_id: str,
        spec: PolicyCreate,
        *,
        actor: str,
        claim: IdempotencyClaim[Policy] | None = None,
    ) -> Policy:
        """Add a rule."""
        return await self._db.write(
            lambda tx: policies.create_policy(tx, tenant_id, spec, actor, claim)
        )

    async def list_policies(
        self, tenant_id: str, *, limit: int, cursor: str | None
    ) -> PageResult[Policy]:
        """A page of rules in evaluation order."""
        return await self._db.read(lambda tx: policies.list_policies(tx, tenant_id, limit, cursor))

    async def delete_policy(self, tenant_id: str, policy_id: str, *, actor: str) -> Policy:
        """Remove a rule."""
        return await self._db.write(
            lambda tx: policies.delete_policy(tx, tenant_id, policy_id, actor)
        )

    # approvals

    async def create_approval(
        self,
        tenant_id: str,
        spec: ApprovalCreate,
        *,
        actor: str,
        default_expires_in: int,
        claim: IdempotencyClaim[ApprovalWrite] | None = None,
    ) -> ApprovalWrite:
        """Create an approval as the policies decide."""
        return await self._db.write(
            lambda tx: approvals.create_approval(
                tx, tenant_id, spec, actor, default_expires_in, claim
            )
        )

    async def get_approval(self, tenant_id: str, approval_id: str) -> Approval:
        """One approval, expired first if it is due."""
        approval, due = await self._db.read(
            lambda tx: approvals.get_approval(tx, tenant_id, approval_id)
        )
        if due:

            def expire_then_read(tx: Tx) -> Approval:
                approvals.expire_one(tx, tenant_id, approval_id)
                return approvals.get_approval(tx, tenant_id, approval_id)[0]

            approval = await self._db.write(expire_then_read)
        return approval

    async def list_approvals(
        self, tenant_id: str, filters: ApprovalFilter, *, limit: int, cursor: str | None
    ) -> PageResult[Approval]:
        """Approvals newest first; due ones are expired first."""

        def read(tx: Tx) -> tuple[bool, PageResult[Approval]]:
            if approvals.has_due(tx, tenant_id):
                return True, PageResult([], None)
            return False, approvals.list_approvals(tx, tenant_id, filters, limit, cursor)

        due, page = await self._db.read(read)
        if due:

            def expire_then_list(tx: Tx) -> PageResult[Approval]:
                approvals.expire_due(tx, 10_000, tenant_id)
                return approvals.list_approvals(tx, tenant_id, filters, limit, cursor)

            page = await self._db.write(expire_then_list)
        return page

    async def decide_approval(
        self,
        tenant_id: str,
        approval_id: str,
        *,
        approve: bool,
        comment: str | None,
        actor: str,
        claim: IdempotencyClaim[Approval] | None = None,
    ) -> Approval:
        """Approve or deny a pending approval (compare-and-set)."""
        status = "approved" if approve else "denied"
        return await self._db.write(
            lambda tx: approvals.set_outcome(
                tx, tenant_id, approval_id, status, comment, actor, claim
            )
        )

    async def cancel_approval(
        self,
        tenant_id: str,
        approval_id: str,
        *,
        comment: str | None,
        actor: str,
        claim: IdempotencyClaim[Approval] | None = None,
    ) -> Approval:
        """Cancel a pending approval (compare-and-set)."""
        return await self._db.write(
            lambda tx: approvals.set_outcome(
                tx, tenant_id, approval_id, "cancelled", comment, actor, claim
            )
        )

    async def expire_due(self, *, limit: int = 500) -> int:
        """Expire due approvals of every tenant."""
        return await self._db.write(lambda tx: approvals.expire_due(tx, limit))

    async def next_expiry(self) -> datetime | None:
        """The earliest pending expiry."""
        text = await self._db.read(approvals.next_expiry)
        return None if text is None else parse_ts(text)

    # events

    async def list_events(
        self,
        tenant_id: str,
        *,
        after: int,
        patterns: Sequence[str],
        visible: Sequence[str] | None,
        limit: int,
    ) -> EventSlice:
        """Matching events after a cursor."""
        return await self._db.read(
            lambda tx: events.list_events(tx, tenant_id, after, patterns, visible, limit)
        )

    async def log_position(self, tenant_id: str, *, cursor: int, horizon: datetime) -> LogPosition:
        """The head and what follows a cursor."""
        return await self._db.read(lambda tx: events.log_position(tx, tenant_id, cursor, horizon))

    async def list_audit_entries(
        self, tenant_id: str, *, after: int, limit: int, filters: AuditFilter | None = None
    ) -> list[AuditEntry]:
        """Events with their chain hashes."""
        return await self._db.read(
            lambda tx: events.list_audit_entries(tx, tenant_id, after, limit, filters)
        )

    # idempotency

    async def sweep_idempotency_keys(self) -> int:
        """Delete expired idempotency keys."""

        def run(tx: Tx) -> int:
            cursor = tx.execute("DELETE FROM idempotency_keys WHERE expires_at <= ?", (ts(tx.now),))
            return cursor.rowcount

        return await self._db.write(run)
