"""The storage interface: the domain operations the broker needs, independent of SQL dialect.

Every operation is scoped by ``tenant_id`` (another tenant's row is simply not found), every
state change appends its event to the tenant's log in the same transaction, and writes that
carry an `IdempotencyClaim` claim the key in that same transaction too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Literal, Protocol, TypeVar

from ...models import (
    ApiKey,
    Approval,
    ApprovalCreate,
    AuditEntry,
    Event,
    Policy,
    PolicyCreate,
)
from .governed import (
    RUN_RESPONSE_STATUS,
    ConnectionRecord,
    GovernedStore,
    NewConnection,
    NewRun,
    RunCreated,
    RunEvidence,
    RunFilter,
    RunFinish,
    RunRef,
)

__all__ = [
    "Store",
    "Tenant",
    "ApiKeyRecord",
    "NewApiKey",
    "ApprovalWrite",
    "ApprovalFilter",
    "PageResult",
    "EventSlice",
    "LogPosition",
    "IdempotencyClaim",
    "IdempotencyRecord",
    "StoreError",
    "NotFound",
    "NotPending",
    "IdempotencyHit",
    "InvalidCursor",
    "DuplicateName",
    "RUN_RESPONSE_STATUS",
    "NewConnection",
    "ConnectionRecord",
    "NewRun",
    "RunCreated",
    "RunFinish",
    "RunFilter",
    "RunRef",
    "AuditFilter",
    "AuditHead",
    "RunEvidence",
]

T = TypeVar("T")
R = TypeVar("R")


# --- records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tenant:
    """An isolated customer of the broker: its own keys, approvals, policies and event log."""

    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class ApiKeyRecord:
    """An API key as stored, including the hash of its secret (never the secret)."""

    id: str
    tenant_id: str
    name: str
    scopes: tuple[str, ...]
    secret_hash: str
    prefix: str
    created_at: datetime
    created_by: str | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def public(self) -> ApiKey:
        """The key as the API shows it (no hash)."""
        return ApiKey(
            id=self.id,
            name=self.name,
            scopes=list(self.scopes),
            created_at=self.created_at,
            prefix=self.prefix,
            expires_at=self.expires_at,
            last_used_at=self.last_used_at,
            revoked_at=self.revoked_at,
            created_by=self.created_by,
        )


@dataclass(frozen=True)
class NewApiKey:
    """What is needed to store a freshly minted key."""

    id: str
    name: str
    scopes: tuple[str, ...]
    secret_hash: str
    prefix: str
    expires_at: datetime | None = None


@dataclass(frozen=True)
class ApprovalWrite:
    """The outcome of creating an approval: ``created`` is False for a ``dedup_key`` match."""

    approval: Approval
    created: bool


@dataclass(frozen=True)
class ApprovalFilter:
    """Filters of the approvals list; empty tuples mean "any"."""

    statuses: tuple[str, ...] = ()
    action: str | None = None
    ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class PageResult(Generic[T]):
    """One page of a list and the opaque cursor of the next (None at the end)."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class EventSlice:
    """Events after a cursor, and the cursor to continue from.

    ``cursor`` is the last seq returned when the page is full, else the head of the log as
    read: every matching event up to it has been returned, so nothing is skipped or repeated.
    """

    events: list[Event]
    cursor: int


@dataclass(frozen=True)
class LogPosition:
    """Where a tenant's log stands, for validating a cursor."""

    head_seq: int
    #: created_at of the event right after the cursor asked about (None if there is none).
    next_created_at: datetime | None
    #: seq of the oldest event created at or after the replay horizon asked about.
    oldest_seq_in_window: int | None


@dataclass(frozen=True)
class IdempotencyClaim(Generic[R]):
    """An ``Idempotency-Key`` to claim in the transaction of a write.

    ``respond`` turns the write's result into the (status, body) that is stored and replayed;
    it runs inside the transaction, so it must be quick and must not fail.
    """

    key: str
    fingerprint: str
    method: str
    path: str
    api_key_id: str
    respond: Callable[[R], tuple[int, bytes]] = field(compare=False)


@dataclass(frozen=True)
class IdempotencyRecord:
    """A claimed key: ``in_progress`` until its response is stored, then ``completed``."""

    key: str
    fingerprint: str
    method: str
    path: str
    state: Literal["in_progress", "completed"]
    status_code: int | None
    response_body: bytes | None
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class AuditFilter:
    """Filters of the audit list: entries at or after ``since``, of a ``type`` glob, about
    some subjects."""

    since: datetime | None = None
    type: str | None = None
    subject_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditHead:
    """Where a tenant's chain ends as the tenant row records it (seq 0: an empty chain)."""

    seq: int
    hash: str


# --- errors --------------------------------------------------------------------------------


class StoreError(Exception):
    """Base of the store's domain errors."""


class NotFound(StoreError):
    """No such row for this tenant."""


class NotPending(StoreError):
    """A decision or cancel on an approval that is no longer pending."""

    def __init__(self, approval: Approval) -> None:
        super().__init__(approval.id)
        self.approval = approval


class IdempotencyHit(StoreError):
    """The key was claimed before; the write was rolled back and nothing changed."""

    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__(record.key)
        self.record = record


class InvalidCursor(StoreError):
    """A list cursor this store did not issue."""


class DuplicateName(StoreError):
    """A tenant of that name exists already."""


# --- the interface -------------------------------------------------------------------------


class Store(GovernedStore, Protocol):
    """The broker's persistence: one implementation per database dialect (the methods of
    governed execution are in `GovernedStore`)."""

    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None:
        """Release the connection; idempotent."""

    def subscribe(self, callback: Callable[[str, int], None]) -> None:
        """Call ``callback(tenant_id, seq)`` on the event loop after every commit that
        appended events (a wake-up hint only: waiters re-read the database)."""

    async def schema_version(self) -> int:
        """The highest migration applied, read like any other read (the health check's
        proof that the store answers)."""

    # tenants
    async def create_tenant(self, name: str, *, first_key: NewApiKey | None = None) -> Tenant:
        """Add a tenant; `DuplicateName` if the name is taken. With ``first_key``, that key
        is stored (by ``system``) in the same transaction: a tenant never exists without
        the key its creator was promised."""

    async def get_tenant_by_name(self, name: str) -> Tenant | None:
        """Find a tenant by its unique name."""

    async def list_tenants(self) -> list[Tenant]:
        """Every tenant, oldest first."""

    # API keys
    async def create_api_key(
        self,
        tenant_id: str,
        key: NewApiKey,
        *,
        actor: str,
        claim: IdempotencyClaim[ApiKey] | None = None,
    ) -> ApiKey:
        """Store a new key (its hash only) and append ``api_key.created``."""

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """The stored record of a key, by id, for authentication."""

    async def list_api_keys(
        self, tenant_id: str, *, limit: int, cursor: str | None
    ) -> PageResult[ApiKey]:
        """The tenant's keys, oldest first, revoked ones included."""

    async def revoke_api_key(self, tenant_id: str, key_id: str, *, actor: str) -> ApiKey:
        """Revoke a key (idempotent) and append ``api_key.revoked`` the first time."""

    async def touch_api_key(self, key_id: str, used_at: datetime) -> None:
        """Record when a key was last used."""

    # policies
    async def create_policy(
        self,
        tenant_id: str,
        spec: PolicyCreate,
        *,
        actor: str,
        claim: IdempotencyClaim[Policy] | None = None,
    ) -> Policy:
        """Add a rule and append ``policy.created``."""

    async def list_policies(
        self, tenant_id: str, *, limit: int, cursor: str | None
    ) -> PageResult[Policy]:
        """The tenant's rules in evaluation order: priority high to low, then oldest first."""

    async def delete_policy(self, tenant_id: str, policy_id: str, *, actor: str) -> Policy:
        """Remove a rule and append ``policy.deleted``; returns the rule as it was."""

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
        """Evaluate the policies and create the approval in one transaction (or return the
        pending approval with the same ``dedup_key``)."""

    async def get_approval(self, tenant_id: str, approval_id: str) -> Approval:
        """One approval; a pending one past its expiry is expired first."""

    async def list_approvals(
        self, tenant_id: str, filters: ApprovalFilter, *, limit: int, cursor: str | None
    ) -> PageResult[Approval]:
        """Approvals newest first."""

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
        """Compare-and-set a pending approval to approved or denied; `NotPending` otherwise."""

    async def cancel_approval(
        self,
        tenant_id: str,
        approval_id: str,
        *,
        comment: str | None,
        actor: str,
        claim: IdempotencyClaim[Approval] | None = None,
    ) -> Approval:
        """Compare-and-set a pending approval to cancelled; `NotPending` otherwise."""

    async def expire_due(self, *, limit: int = 500) -> int:
        """Expire pending approvals whose time has come (all tenants); returns how many."""

    async def next_expiry(self) -> datetime | None:
        """When the next pending approval expires, if any does."""

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
        """Events with ``seq > after`` matching any of ``patterns`` (globs, empty = all) and
        any of ``visible`` (globs, None = all), in seq order."""

    async def log_position(self, tenant_id: str, *, cursor: int, horizon: datetime) -> LogPosition:
        """The head of the log and what lies right after ``cursor``."""

    async def list_audit_entries(
        self, tenant_id: str, *, after: int, limit: int, filters: AuditFilter | None = None
    ) -> list[AuditEntry]:
        """Events with their chain hashes and ``seq > after``, in seq order."""

    async def audit_head(self, tenant_id: str) -> AuditHead:
        """The end of the tenant's chain as its tenant row records it."""

    # idempotency
    async def sweep_idempotency_keys(self) -> int:
        """Delete keys past their expiry; returns how many."""
