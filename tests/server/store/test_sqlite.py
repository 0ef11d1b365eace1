"""`SQLiteStore` directly: the hash chain, hashes-only key storage, migrations, CAS."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import replace

import anyio
import msgspec
import pytest

from signoff.models import ApprovalCreate
from signoff.server.auth import hash_secret, mint_key
from signoff.server.store.base import NotPending
from signoff.server.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(tmp_path):
    opened = SQLiteStore(tmp_path / "store.db")
    await opened.open()
    yield opened
    await opened.close()


async def test_hash_chain_recomputes_from_the_rows(store) -> None:
    tenant = await store.create_tenant("chain")
    other = await store.create_tenant("other")
    for t in (tenant, other, tenant):
        write = await store.create_approval(
            t.id,
            ApprovalCreate(action="a.b", metadata={"n": 1.5}),
            actor="key_x",
            default_expires_in=60,
        )
        await store.decide_approval(
            t.id, write.approval.id, approve=True, comment=None, actor="key_y"
        )
    entries = await store.list_audit_entries(tenant.id, after=0, limit=100)
    encoder = msgspec.json.Encoder(order="sorted")
    prev = bytes(32)
    for entry in entries:
        canonical = encoder.encode(
            {
                "tenant_id": tenant.id,
                "seq": entry.seq,
                "id": entry.id,
                "type": entry.type,
                "subject_id": entry.subject_id,
                "actor": entry.actor,
                "created_at": entry.created_at,
                "data": entry.data,
            }
        )
        expected = hashlib.sha256(b"\x00" + prev + canonical).hexdigest()
        assert entry.prev_hash == prev.hex()
        assert entry.hash == expected
        prev = bytes.fromhex(entry.hash)
    assert [e.seq for e in entries] == [1, 2, 3, 4]  # per tenant, gap-free


async def test_a_tampered_row_breaks_the_chain(store) -> None:
    tenant = await store.create_tenant("tamper")
    await store.create_approval(
        tenant.id, ApprovalCreate(action="a"), actor="k", default_expires_in=60
    )
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE events SET actor = 'someone-else'")
    (entry,) = await store.list_audit_entries(tenant.id, after=0, limit=10)
    canonical = msgspec.json.Encoder(order="sorted").encode(
        {
            "tenant_id": tenant.id,
            "seq": entry.seq,
            "id": entry.id,
            "type": entry.type,
            "subject_id": entry.subject_id,
            "actor": entry.actor,
            "created_at": entry.created_at,
            "data": entry.data,
        }
    )
    assert hashlib.sha256(b"\x00" + bytes(32) + canonical).hexdigest() != entry.hash


async def test_only_the_hash_of_a_key_is_stored(store) -> None:
    tenant = await store.create_tenant("keys")
    minted = mint_key("agent", ("approvals:read",), pepper=None)
    await store.create_api_key(tenant.id, minted.record, actor="system")
    secret = minted.token.rsplit("_", 1)[1]
    await store.close()
    raw = b"".join(path.read_bytes() for path in store_files(store.path))
    assert secret.encode() not in raw
    with sqlite3.connect(store.path) as db:
        (stored,) = db.execute("SELECT secret_hash FROM api_keys").fetchone()
    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    await store.open()


def store_files(path: str) -> list:
    from pathlib import Path

    base = Path(path)
    return [p for p in (base, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


def test_a_pepper_makes_the_hash_an_hmac() -> None:
    import hmac

    assert hash_secret("s", "pepper") == hmac.new(b"pepper", b"s", hashlib.sha256).hexdigest()
    assert hash_secret("s", "pepper") != hash_secret("s", None)


async def test_migrations_are_recorded_and_not_applied_twice(store) -> None:
    await store.close()
    await store.open()
    with sqlite3.connect(store.path) as db:
        rows = db.execute("SELECT version, name FROM schema_migrations").fetchall()
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert rows == [(1, "0001_init.sql"), (2, "0002_actions.sql")]
    assert mode == "wal"
    assert await store.schema_version() == 2


async def test_a_tenant_and_its_first_key_are_written_together(store) -> None:
    taken = mint_key("first", ("admin",), pepper=None).record
    await store.create_tenant("other", first_key=taken)
    clash = replace(mint_key("admin", ("admin",), pepper=None).record, id=taken.id)
    with pytest.raises(sqlite3.IntegrityError):  # the key cannot be stored...
        await store.create_tenant("acme", first_key=clash)
    left = await store.get_tenant_by_name("acme")  # ...so neither is the tenant
    fine = mint_key("admin", ("admin",), pepper=None).record
    acme = await store.create_tenant("acme", first_key=fine)
    keys = await store.list_api_keys(acme.id, limit=10, cursor=None)
    events = await store.list_audit_entries(acme.id, after=0, limit=10)
    assert left is None
    assert [(k.id, k.scopes, k.created_by) for k in keys.items] == [(fine.id, ["admin"], "system")]
    assert [(e.type, e.actor) for e in events] == [("api_key.created", "system")]


async def test_concurrent_decisions_in_the_store_have_one_winner(store) -> None:
    tenant = await store.create_tenant("race")
    write = await store.create_approval(
        tenant.id, ApprovalCreate(action="a"), actor="k", default_expires_in=60
    )
    outcomes: list[str] = []

    async def decide(i: int) -> None:
        try:
            await store.decide_approval(
                tenant.id, write.approval.id, approve=bool(i % 2), comment=None, actor=f"key_{i}"
            )
            outcomes.append("won")
        except NotPending:
            outcomes.append("conflict")

    async with anyio.create_task_group() as tasks:
        for i in range(20):
            tasks.start_soon(decide, i)
    assert sorted(outcomes) == ["conflict"] * 19 + ["won"]


async def test_commits_notify_the_subscriber_with_tenant_and_seq(store) -> None:
    seen: list[tuple[str, int]] = []
    store.subscribe(lambda tenant_id, seq: seen.append((tenant_id, seq)))
    tenant = await store.create_tenant("notify")
    await store.create_approval(
        tenant.id, ApprovalCreate(action="a"), actor="k", default_expires_in=60
    )
    assert seen == [(tenant.id, 1)]
