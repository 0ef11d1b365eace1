"""Check an action run's evidence pack offline: ``signoff.evidence.verify(pack)``.

An evidence pack (``await client.actions.evidence(run_id)``) says: this run, with this
input and result, was decided by this policy (and this person), and here are the audit log
entries that recorded each step. `check` re-derives every claim from the entries:

1. each entry's hash, recomputed from its fields and ``prev_hash`` exactly as the broker
   chains them (`signoff._chain`), and the link between entries that are neighbours in the
   chain; every entry belongs to the pack's tenant and is about the run or its approval;
2. the run equals the snapshot in the last ``action.*`` entry about it;
3. the approval, if any, equals the snapshot in the last ``approval.*`` entry about it, and
   ``decided_by`` is who decided it;
4. ``input_digest`` and ``result_digest`` are the SHA-256 of the run's canonical input and
   result;
5. the policy decision is the outcome the run records, and the run ended the way that
   decision (and the approval) allows.

So a change to any field the pack's entries cover, and to any claim derived from them, is
caught. What it cannot show alone is that the entries are the broker's: someone who rewrites
an entry *and* recomputes its hash is caught only against the chain itself, so to rule that
out compare an entry's hash with the tenant's log (``client.audit.list(subject_id=...)``, or
a copy kept elsewhere). ``generated_at`` is when the pack was assembled; no entry vouches for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from ._chain import canonical_json, entry_hash
from .models import ApprovalStatus, AuditEntry, EvidencePack, RunStatus

__all__ = ["check", "verify"]

M = TypeVar("M", bound=msgspec.Struct)

#: The run statuses each policy effect (and, for a human decision, the approval's status)
#: can lead to.
_AFTER_ALLOW = frozenset({RunStatus.RUNNING, RunStatus.SUCCEEDED, RunStatus.FAILED})
_AFTER_APPROVAL: dict[ApprovalStatus, frozenset[RunStatus]] = {
    ApprovalStatus.PENDING: frozenset({RunStatus.AWAITING_APPROVAL}),
    ApprovalStatus.APPROVED: _AFTER_ALLOW,
    ApprovalStatus.DENIED: frozenset({RunStatus.DENIED}),
    ApprovalStatus.EXPIRED: frozenset({RunStatus.CANCELLED}),
    ApprovalStatus.CANCELLED: frozenset({RunStatus.CANCELLED}),
}


def verify(pack: EvidencePack | bytes | str | Mapping[str, Any]) -> bool:
    """True when the pack is sound: every check of `check` passes."""
    return not check(pack)


def check(pack: EvidencePack | bytes | str | Mapping[str, Any]) -> list[str]:
    """Every problem found in an evidence pack (an `EvidencePack` or its JSON, as bytes, text
    or a parsed dict), as sentences; an empty list means it is sound."""
    try:
        loaded = _load(pack)
    except ValueError as exc:
        return [str(exc)]
    return [
        *_check_entries(loaded),
        *_check_run(loaded),
        *_check_approval(loaded),
        *_check_digests(loaded),
        *_check_decision(loaded),
    ]


def _load(pack: object) -> EvidencePack:
    if isinstance(pack, EvidencePack):
        return pack
    try:
        if isinstance(pack, bytes | bytearray | memoryview | str):
            return msgspec.json.decode(pack, type=EvidencePack)
        if isinstance(pack, Mapping):
            return msgspec.convert(dict(pack), EvidencePack)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"not an evidence pack: {exc}") from None
    raise TypeError(f"pack must be an EvidencePack or its JSON, not {type(pack).__name__}")


def _check_entries(pack: EvidencePack) -> list[str]:
    problems: list[str] = []
    if not pack.audit_entries:
        return ["the pack has no audit entries"]
    subjects = {pack.run.id}
    if pack.approval is not None:
        subjects.add(pack.approval.id)
    before: AuditEntry | None = None
    for entry in pack.audit_entries:
        where = f"audit entry {entry.seq} ({entry.type})"
        if entry.tenant_id != pack.tenant_id:
            problems.append(f"{where} belongs to tenant {entry.tenant_id}, not {pack.tenant_id}")
        if entry.subject_id not in subjects:
            problems.append(f"{where} is about {entry.subject_id}, not this run or its approval")
        try:
            prev_hash, stored = bytes.fromhex(entry.prev_hash), bytes.fromhex(entry.hash)
        except ValueError:
            problems.append(f"{where} has a hash that is not hex")
        else:
            recomputed = entry_hash(
                prev_hash,
                tenant_id=entry.tenant_id,
                seq=entry.seq,
                id=entry.id,
                type=entry.type,
                subject_id=entry.subject_id,
                actor=entry.actor,
                created_at=entry.created_at,
                data=entry.data,
            )
            if recomputed != stored:
                problems.append(f"{where} does not match its hash: a field was changed")
        if before is not None:
            if entry.seq <= before.seq:
                problems.append(f"{where} comes after entry {before.seq}: out of order")
            elif entry.seq == before.seq + 1 and entry.prev_hash != before.hash:
                problems.append(f"{where} does not link to entry {before.seq}")
        before = entry
    return problems


def _last_entry(pack: EvidencePack, prefix: str, subject_id: str) -> AuditEntry | None:
    for entry in reversed(pack.audit_entries):
        if entry.type.startswith(prefix) and entry.subject_id == subject_id:
            return entry
    return None


def _differences(claimed: M, entry: AuditEntry, what: str) -> list[str]:
    """How ``claimed`` differs from the snapshot an entry recorded, field by field."""
    model = type(claimed)
    try:
        recorded = msgspec.convert(entry.data, model)
    except msgspec.ValidationError as exc:
        return [f"audit entry {entry.seq} does not hold a valid {model.__name__}: {exc}"]
    if recorded == claimed:
        return []
    changed = [
        field
        for field in claimed.__struct_fields__
        if getattr(claimed, field) != getattr(recorded, field)
    ]
    return [f"{what} differs from audit entry {entry.seq} in: {', '.join(changed)}"]


def _check_run(pack: EvidencePack) -> list[str]:
    run = pack.run
    entry = _last_entry(pack, "action.", run.id)
    if entry is None:
        return [f"no action.* audit entry records run {run.id}"]
    return _differences(run, entry, f"run {run.id}")


def _check_approval(pack: EvidencePack) -> list[str]:
    run, approval = pack.run, pack.approval
    if approval is None:
        if run.approval_id is not None:
            return [f"run {run.id} was held for approval {run.approval_id}, missing from the pack"]
        if pack.decided_by not in (None, f"policy:{pack.decision.policy_id}"):
            return [f"decided_by {pack.decided_by!r} without an approval or a policy behind it"]
        return []
    problems: list[str] = []
    if approval.id != run.approval_id:
        problems.append(f"approval {approval.id} is not run {run.id}'s ({run.approval_id})")
    entry = _last_entry(pack, "approval.", approval.id)
    if entry is None:
        problems.append(f"no approval.* audit entry records approval {approval.id}")
    else:
        problems += _differences(approval, entry, f"approval {approval.id}")
    if pack.decided_by != approval.decided_by:
        problems.append(
            f"decided_by is {pack.decided_by!r} but approval {approval.id} was decided by "
            f"{approval.decided_by!r}"
        )
    return problems


def _digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def _check_digests(pack: EvidencePack) -> list[str]:
    problems: list[str] = []
    if pack.input_digest != _digest(pack.run.input):
        problems.append("input_digest is not the SHA-256 of the run's input")
    if pack.result_digest is None:
        if pack.run.result is not None:
            problems.append("the run has a result but the pack has no result_digest")
    elif pack.result_digest != _digest(pack.run.result):
        problems.append("result_digest is not the SHA-256 of the run's result")
    return problems


def _check_decision(pack: EvidencePack) -> list[str]:
    run, decision, approval = pack.run, pack.decision, pack.approval
    problems: list[str] = []
    # A run without a recorded outcome was held for a person: no rule matched.
    if decision.effect != (run.outcome or "require_approval"):
        problems.append(f"the decision says {decision.effect!r}, the run's outcome {run.outcome!r}")
    if decision.policy_id != run.policy_id:
        problems.append(
            f"the decision names policy {decision.policy_id}, the run policy {run.policy_id}"
        )
    if decision.effect == "require_approval":
        if approval is None:
            return [*problems, "the decision required an approval but the pack has none"]
        allowed = _AFTER_APPROVAL.get(approval.status, frozenset())
        because = f"approval {approval.id} is {approval.status.value}"
    elif decision.effect in ("allow", "deny"):
        if approval is not None:
            problems.append(f"policy decided {decision.effect!r} yet approval {approval.id} exists")
        allowed = _AFTER_ALLOW if decision.effect == "allow" else frozenset({RunStatus.DENIED})
        because = f"policy decided {decision.effect!r}"
    else:
        return [*problems, f"unknown policy effect {decision.effect!r}"]
    if run.status not in allowed:
        problems.append(f"run {run.id} is {run.status.value}, but {because}")
    return problems
