"""The per-tenant hash chain over the event log (the audit trail), shared by the broker that
writes it and the SDK that verifies evidence offline.

``hash = SHA-256(0x00 || prev_hash || canonical JSON of the entry)`` where the entry is
``{tenant_id, seq, id, type, subject_id, actor, created_at, data}`` exactly as the API serves
it, and canonical JSON is msgspec's encoding with sorted keys. The first entry's
``prev_hash`` is 32 zero bytes. Anyone holding the events can recompute the chain.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import msgspec

__all__ = ["GENESIS_HASH", "canonical_json", "entry_hash"]

GENESIS_HASH = bytes(32)
_canonical = msgspec.json.Encoder(order="sorted")


def canonical_json(value: Any) -> bytes:
    """The canonical JSON bytes of a value: keys sorted at every level, no whitespace."""
    return _canonical.encode(value)


def entry_hash(
    prev_hash: bytes,
    *,
    tenant_id: str,
    seq: int,
    id: str,
    type: str,
    subject_id: str,
    actor: str | None,
    created_at: datetime,
    data: dict[str, Any],
) -> bytes:
    """The chain hash of one event, linked to the hash of the event before it."""
    entry = {
        "tenant_id": tenant_id,
        "seq": seq,
        "id": id,
        "type": type,
        "subject_id": subject_id,
        "actor": actor,
        "created_at": created_at,
        "data": data,
    }
    return hashlib.sha256(b"\x00" + prev_hash + canonical_json(entry)).digest()
