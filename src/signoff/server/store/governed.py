"""The storage interface of governed execution: connections, action runs, their recovery and
evidence. Part of `signoff.server.store.base.Store` (split out to keep each module one job;
import these names from ``base`` like the rest).

Runs follow the same rules as every other change: scoped by tenant, each change appending its
``action.<status>`` event in its own transaction, keys claimed in the write that uses them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ...models import ActionRun, Approval, AuditEntry, Connection, ErrorDetail

if TYPE_CHECKING:  # base imports this module; these are annotations only
    from .base import IdempotencyClaim, IdempotencyHit, NotFound, PageResult

__all__ = [
    "RUN_RESPONSE_STATUS",
    "NewConnection",
    "ConnectionRecord",
    "NewRun",
    "RunCreated",
    "RunFinish",
    "RunFilter",
    "RunRef",
    "RunEvidence",
    "GovernedStore",
]

#: The status a ``POST /v1/actions`` answers with, and the one stored for its idempotency key
#: when a run finishes (the key's body is then the finished run).
RUN_RESPONSE_STATUS = 201


@dataclass(frozen=True)
class NewConnection:
    """A validated connection to store: its connector accepted the config and secrets."""

    name: str
    connector: str
    config: dict[str, Any]
    secrets: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class ConnectionRecord:
    """A connection as stored, secrets included. Only the executor reads ``secrets``; every
    answer, event and log line uses `public` (secret names only)."""

    id: str
    tenant_id: str
    name: str
    connector: str
    config: dict[str, Any]
    secrets: dict[str, str] = field(repr=False)
    created_at: datetime
    deleted_at: datetime | None = None

    def public(self) -> Connection:
        """The connection as the API shows it: no secret values."""
        return Connection(
            id=self.id,
            name=self.name,
            connector=self.connector,
            created_at=self.created_at,
            config=self.config,
            secret_names=sorted(self.secrets),
        )


@dataclass(frozen=True)
class NewRun:
    """One validated action request; the store's policies decide what becomes of it."""

    connection: ConnectionRecord
    action_type: str
    input: dict[str, Any]
    metadata: dict[str, Any]
    claim: IdempotencyClaim[ActionRun] | None = None


@dataclass(frozen=True)
class RunCreated:
    """A run as created: ``running`` (allowed: the caller executes it), ``denied``, or
    ``awaiting_approval`` with the approval created beside it."""

    run: ActionRun
    approval: Approval | None = None


@dataclass(frozen=True)
class RunFinish:
    """How one execution ended: a JSON result, or the error that failed the run."""

    tenant_id: str
    run_id: str
    result: Any = None
    error: ErrorDetail | None = None


@dataclass(frozen=True)
class RunFilter:
    """Filters of the runs list; empty means "any"."""

    statuses: tuple[str, ...] = ()
    connection_id: str | None = None
    action_type: str | None = None
    ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunRef:
    """A run to execute, by tenant and id (the executor's queue holds these)."""

    tenant_id: str
    run_id: str


@dataclass(frozen=True)
class RunEvidence:
    """A run, its approval and every audit entry about either, read in one snapshot (so the
    run equals the data of its last entry)."""

    run: ActionRun
    approval: Approval | None
    entries: list[AuditEntry]


class GovernedStore(Protocol):
    """Connections, runs, recovery and evidence: the `Store` methods of governed execution."""

    # connections
    async def create_connection(
        self,
        tenant_id: str,
        spec: NewConnection,
        *,
        actor: str,
        claim: IdempotencyClaim[Connection] | None = None,
    ) -> Connection:
        """Store a connection and append ``connection.created`` (without its secrets);
        `DuplicateName` when a live connection of the tenant has the name."""

    async def get_connection(
        self, tenant_id: str, connection_id: str, *, include_deleted: bool = False
    ) -> ConnectionRecord:
        """One connection with its secrets; `NotFound` if unknown (or deleted, unless asked)."""

    async def get_connections(
        self, tenant_id: str, connection_ids: Sequence[str]
    ) -> dict[str, ConnectionRecord]:
        """The live connections among ``connection_ids``, by id (unknown ones are absent)."""

    async def list_connections(
        self, tenant_id: str, *, limit: int, cursor: str | None
    ) -> PageResult[Connection]:
        """The tenant's live connections, oldest first."""

    async def delete_connection(
        self, tenant_id: str, connection_id: str, *, actor: str
    ) -> Connection:
        """Delete a connection (its runs remain) and append ``connection.deleted``."""

    # action runs
    async def create_runs(
        self, tenant_id: str, runs: Sequence[NewRun], *, actor: str, default_expires_in: int
    ) -> list[RunCreated | IdempotencyHit | NotFound]:
        """Claim each run's key, evaluate the policies and create the runs (and the approvals
        they need) in one transaction. A key claimed before answers `IdempotencyHit` for that
        run alone, and a connection that is no longer live (deleted since the caller read it)
        answers `NotFound` for that run alone, its key unclaimed; the others are created. An
        allowed run is created ``running`` with its key left ``in_progress``: the caller
        executes it and calls `finish_runs`."""

    async def finish_runs(self, finishes: Sequence[RunFinish]) -> list[ActionRun]:
        """Move running runs to ``succeeded`` or ``failed`` in one transaction; a key claimed
        with a run is completed with `RUN_RESPONSE_STATUS` and the finished run. A run no
        longer running is returned unchanged."""

    async def get_run(self, tenant_id: str, run_id: str) -> ActionRun:
        """One run; `NotFound` if unknown."""

    async def get_run_for_execution(
        self, tenant_id: str, run_id: str
    ) -> tuple[ActionRun, ConnectionRecord]:
        """A run and its connection, secrets and all (even a deleted one)."""

    async def list_runs(
        self, tenant_id: str, filters: RunFilter, *, limit: int, cursor: str | None
    ) -> PageResult[ActionRun]:
        """Runs newest first."""

    async def settle_released_runs(self, *, limit: int = 500) -> int:
        """Move on ``awaiting_approval`` runs whose approval is settled already (all tenants):
        the same change a decision makes; returns how many moved."""

    async def list_running_runs(self, *, after: int, limit: int) -> list[tuple[int, RunRef]]:
        """Runs left ``running`` (all tenants) past position ``after``, in creation order,
        each with its position (for recovery at startup)."""

    async def get_run_evidence(self, tenant_id: str, run_id: str) -> RunEvidence:
        """A run, its approval and the audit entries about them, in one snapshot."""

    def subscribe_runs(self, callback: Callable[[RunRef], None]) -> None:
        """Call ``callback(ref)`` on the event loop after each commit that moved a run to
        ``running`` for background execution (an approval released it)."""
