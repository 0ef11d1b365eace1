"""Proving what happened: re-computing a tenant's hash chain, and a run's evidence pack.

`ChainCheck` walks the entries in seq order and checks, for each, that it is the next seq,
that its ``prev_hash`` is the previous entry's hash, and that its own hash is the hash of its
contents (`signoff._chain.entry_hash`); at the end, that the tenant row's head is the last
entry. The route (`verify_tenant`) and the offline ``signoff audit verify`` share it.

A chain proves that nothing was edited *unless* the whole chain was re-written from the edit
on, head included: only copies kept elsewhere (an evidence pack, a recorded head) show that.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .._chain import GENESIS_HASH, canonical_json, entry_hash
from ..models import AuditEntry, AuditVerification, EvidencePack, PolicyDecision
from .ids import utcnow
from .store.base import AuditHead, RunEvidence, Store

__all__ = ["ChainCheck", "verify_tenant", "digest", "evidence_pack"]

_PAGE = 1000


class ChainCheck:
    """Checks one tenant's entries, fed in seq order, until the first broken link."""

    def __init__(self) -> None:
        self.checked = 0
        self.first_broken_seq: int | None = None
        self.reason: str | None = None
        self._prev = GENESIS_HASH

    @property
    def broken(self) -> bool:
        """True once a link failed (later entries are not checked)."""
        return self.first_broken_seq is not None

    def _break(self, seq: int, reason: str) -> bool:
        self.first_broken_seq, self.reason = seq, reason
        return False

    def add(self, entry: AuditEntry) -> bool:
        """Check the next entry; False once the chain is broken."""
        if self.broken:
            return False
        expected = self.checked + 1
        if entry.seq != expected:
            return self._break(expected, f"entry {expected} is missing (found {entry.seq} next)")
        if entry.prev_hash != self._prev.hex():
            return self._break(entry.seq, f"entry {entry.seq} does not link to the entry before")
        recomputed = entry_hash(
            self._prev,
            tenant_id=entry.tenant_id,
            seq=entry.seq,
            id=entry.id,
            type=entry.type,
            subject_id=entry.subject_id,
            actor=entry.actor,
            created_at=entry.created_at,
            data=entry.data,
        )
        if recomputed.hex() != entry.hash:
            return self._break(entry.seq, f"entry {entry.seq} does not match its hash (edited)")
        self._prev = recomputed
        self.checked += 1
        return True

    def finish(self, head: AuditHead) -> AuditVerification:
        """The verdict, once every entry up to the tenant's recorded head was fed."""
        if not self.broken:
            if self.checked < head.seq:
                self._break(self.checked + 1, f"entries after {self.checked} are missing")
            elif self.checked > head.seq or self._prev.hex() != head.hash:
                self._break(
                    max(head.seq, 1), "the tenant's recorded head is not the last entry's hash"
                )
        return AuditVerification(
            ok=not self.broken,
            checked=self.checked,
            first_broken_seq=self.first_broken_seq,
            head_seq=head.seq,
            head_hash=head.hash,
            reason=self.reason,
        )


async def verify_tenant(store: Store, tenant_id: str) -> AuditVerification:
    """Re-compute the tenant's whole chain, up to the head as it is when the check starts
    (entries appended meanwhile are left for the next check)."""
    head = await store.audit_head(tenant_id)
    check = ChainCheck()
    after = 0
    while after < head.seq and not check.broken:
        page = await store.list_audit_entries(tenant_id, after=after, limit=_PAGE)
        for entry in page:
            if entry.seq > head.seq or not check.add(entry):
                break
        if len(page) < _PAGE:
            break
        after = page[-1].seq
    return check.finish(head)


def digest(value: Any) -> str:
    """SHA-256 (hex) of a value's canonical JSON: what an evidence pack commits to."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def evidence_pack(tenant_id: str, evidence: RunEvidence) -> EvidencePack:
    """The evidence pack of a run: it, its decision, its approval and their audit entries."""
    run, approval = evidence.run, evidence.approval
    if approval is not None:
        decided_by = approval.decided_by
    elif run.policy_id is not None:
        decided_by = f"policy:{run.policy_id}"
    else:
        decided_by = None
    return EvidencePack(
        tenant_id=tenant_id,
        run=run,
        input_digest=digest(run.input),
        result_digest=None if run.result is None else digest(run.result),
        decision=PolicyDecision(effect=run.outcome or "require_approval", policy_id=run.policy_id),
        approval=approval,
        decided_by=decided_by,
        audit_entries=evidence.entries,
        generated_at=utcnow(),
    )
