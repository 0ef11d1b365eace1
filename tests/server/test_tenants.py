"""Tenants and their first admin keys: created together, so a failed attempt can be retried."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest

from signoff.server import tenants
from signoff.server.auth import MintedKey, mint_key
from signoff.server.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(tmp_path):
    opened = SQLiteStore(tmp_path / "tenants.db")
    await opened.open()
    yield opened
    await opened.close()


async def test_bootstrap_offers_a_key_again_after_a_failed_first_attempt(
    store, monkeypatch
) -> None:
    _, other_token = await tenants.create_tenant(store, "other", pepper=None)
    taken_id = "key_" + other_token.removeprefix("sgn_live_").split("_")[0]

    def mint_a_taken_id(name: str, scopes: tuple[str, ...], **kwargs: object) -> MintedKey:
        minted = mint_key(name, scopes, **kwargs)  # type: ignore[arg-type]
        return MintedKey(minted.token, replace(minted.record, id=taken_id))

    monkeypatch.setattr(tenants, "mint_key", mint_a_taken_id)
    with pytest.raises(sqlite3.IntegrityError):  # the admin key's write fails (say, a crash)
        await tenants.bootstrap(store, pepper=None)
    monkeypatch.undo()
    token = await tenants.bootstrap(store, pepper=None)
    assert token is not None  # without one write, the tenant would exist keyless by now
    tenant = await store.get_tenant_by_name(tenants.DEFAULT_TENANT)
    assert tenant is not None
    keys = await store.list_api_keys(tenant.id, limit=10, cursor=None)
    assert [key.prefix for key in keys.items] == [token.rsplit("_", 1)[0]]


async def test_ensure_admin_key_creates_the_default_tenant_with_the_key(store) -> None:
    token = await tenants.ensure_admin_key(store, name="embedded", pepper=None)
    again = await tenants.ensure_admin_key(store, name="embedded", pepper=None)
    tenant = await store.get_tenant_by_name(tenants.DEFAULT_TENANT)
    assert tenant is not None
    keys = await store.list_api_keys(tenant.id, limit=10, cursor=None)
    assert [(key.name, key.prefix) for key in keys.items] == [
        ("embedded", token.rsplit("_", 1)[0]),
        ("embedded", again.rsplit("_", 1)[0]),
    ]
