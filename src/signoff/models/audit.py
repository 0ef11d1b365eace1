"""The tamper-evident audit log and evidence packs."""

from __future__ import annotations

import msgspec

from ._base import JSONObject, Model, Timestamp
from .actions import ActionRun
from .approvals import Approval

__all__ = ["AuditEntry", "AuditVerification", "PolicyDecision", "EvidencePack"]


class AuditEntry(Model):
    """One link of the tenant's hash chain (the event log, with its hashes).

    ``hash = SHA-256(0x00 || prev_hash || canonical JSON of the entry)``, hex encoded; the
    first entry's ``prev_hash`` is 64 zeros. The canonical JSON covers ``tenant_id``, ``seq``,
    ``id``, ``type``, ``subject_id``, ``actor``, ``created_at`` and ``data`` (sorted keys).
    """

    tenant_id: str
    id: str
    seq: int
    type: str
    subject_id: str
    created_at: Timestamp
    prev_hash: str
    hash: str
    actor: str | None = None
    data: JSONObject = msgspec.field(default_factory=dict)


class AuditVerification(Model):
    """The result of re-computing the chain: ``ok`` or the first ``seq`` that does not match."""

    ok: bool
    checked: int
    first_broken_seq: int | None = None
    head_seq: int | None = None
    head_hash: str | None = None
    reason: str | None = None


class PolicyDecision(Model):
    """What policy decided for a run, and which rule (if any) decided it."""

    effect: str
    policy_id: str | None = None


class EvidencePack(Model):
    """Everything needed to prove offline what happened to one action run.

    ``audit_entries`` are the hash-chained log entries about the run and its approval;
    ``signoff.evidence.verify(pack)`` recomputes every hash and checks that the run, its
    approval and the digests agree with them.
    """

    tenant_id: str
    run: ActionRun
    input_digest: str
    decision: PolicyDecision
    audit_entries: list[AuditEntry]
    generated_at: Timestamp
    result_digest: str | None = None
    approval: Approval | None = None
    decided_by: str | None = None
