"""The `SQLiteStore` methods of governed execution: connections, action runs, recovery,
evidence and the audit chain's head. Mixed into `SQLiteStore` to keep each module one job;
the SQL lives in ``sqlite_connections``, ``sqlite_runs``, ``sqlite_actions`` and
``sqlite_events``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ...models import ActionRun, Connection
from . import (
    sqlite_actions as actions,
    sqlite_connections as connections,
    sqlite_events as events,
    sqlite_keys as keys,
    sqlite_runs as runs,
)
from .base import (
    AuditHead,
    ConnectionRecord,
    IdempotencyClaim,
    IdempotencyHit,
    NewConnection,
    NewRun,
    NotFound,
    PageResult,
    RunCreated,
    RunEvidence,
    RunFilter,
    RunFinish,
    RunRef,
    Tenant,
)
from .sqlite_db import Database, Tx

__all__ = ["GovernedStoreMethods"]


class GovernedStoreMethods:
    """Connections, runs, recovery and evidence on the store's `Database`."""

    _db: Database

    def subscribe_runs(self, callback: Callable[[RunRef], None]) -> None:
        """Call ``callback(ref)`` after each commit that released a run for execution."""
        self._db.on_queued = callback

    async def list_tenants(self) -> list[Tenant]:
        """Every tenant."""
        return await self._db.read(keys.list_tenants)

    async def audit_head(self, tenant_id: str) -> AuditHead:
        """The end of the tenant's chain."""
        return await self._db.read(lambda tx: events.audit_head(tx, tenant_id))

    # connections

    async def create_connection(
        self,
        tenant_id: str,
        spec: NewConnection,
        *,
        actor: str,
        claim: IdempotencyClaim[Connection] | None = None,
    ) -> Connection:
        """Store a connection."""
        return await self._db.write(
            lambda tx: connections.create_connection(tx, tenant_id, spec, actor, claim)
        )

    async def get_connection(
        self, tenant_id: str, connection_id: str, *, include_deleted: bool = False
    ) -> ConnectionRecord:
        """One connection, secrets included."""
        return await self._db.read(
            lambda tx: connections.get_connection(tx, tenant_id, connection_id, include_deleted)
        )

    async def get_connections(
        self, tenant_id: str, connection_ids: Sequence[str]
    ) -> dict[str, ConnectionRecord]:
        """Live connections by id."""
        return await self._db.read(
            lambda tx: connections.get_connections(tx, tenant_id, connection_ids)
        )

    async def list_connections(
        self, tenant_id: str, *, limit: int, cursor: str | None
    ) -> PageResult[Connection]:
        """A page of live connections."""
        return await self._db.read(
            lambda tx: connections.list_connections(tx, tenant_id, limit, cursor)
        )

    async def delete_connection(
        self, tenant_id: str, connection_id: str, *, actor: str
    ) -> Connection:
        """Delete a connection."""
        return await self._db.write(
            lambda tx: connections.delete_connection(tx, tenant_id, connection_id, actor)
        )

    # runs

    async def create_runs(
        self, tenant_id: str, runs: Sequence[NewRun], *, actor: str, default_expires_in: int
    ) -> list[RunCreated | IdempotencyHit | NotFound]:
        """Create runs as the policies decide, in one transaction."""
        if not runs:
            return []
        return await self._db.write(
            lambda tx: actions.create_runs(tx, tenant_id, runs, actor, default_expires_in)
        )

    async def finish_runs(self, finishes: Sequence[RunFinish]) -> list[ActionRun]:
        """Record how executions ended, in one transaction."""
        if not finishes:
            return []
        return await self._db.write(lambda tx: [runs.finish_run(tx, f) for f in finishes])

    async def get_run(self, tenant_id: str, run_id: str) -> ActionRun:
        """One run."""
        return await self._db.read(lambda tx: runs.get_run(tx, tenant_id, run_id))

    async def get_run_for_execution(
        self, tenant_id: str, run_id: str
    ) -> tuple[ActionRun, ConnectionRecord]:
        """A run and its connection (even a deleted one)."""

        def read(tx: Tx) -> tuple[ActionRun, ConnectionRecord]:
            run = runs.get_run(tx, tenant_id, run_id)
            connection = connections.get_connection(tx, tenant_id, run.connection_id, True)
            return run, connection

        return await self._db.read(read)

    async def list_runs(
        self, tenant_id: str, filters: RunFilter, *, limit: int, cursor: str | None
    ) -> PageResult[ActionRun]:
        """Runs newest first."""
        return await self._db.read(lambda tx: runs.list_runs(tx, tenant_id, filters, limit, cursor))

    async def settle_released_runs(self, *, limit: int = 500) -> int:
        """Move on runs whose approval settled already."""
        return await self._db.write(lambda tx: actions.settle_released(tx, limit))

    async def list_running_runs(self, *, after: int, limit: int) -> list[tuple[int, RunRef]]:
        """Runs left running, in creation order."""
        return await self._db.read(lambda tx: runs.list_running(tx, after, limit))

    async def get_run_evidence(self, tenant_id: str, run_id: str) -> RunEvidence:
        """A run's evidence in one snapshot."""
        return await self._db.read(lambda tx: actions.run_evidence(tx, tenant_id, run_id))
