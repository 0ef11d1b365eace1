"""``client.api_keys`` against the real broker: scopes, revocation, only hashes stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

from _sdk import key_with
from signoff import AsyncSignoff, AuthenticationError, PermissionDeniedError

pytestmark = pytest.mark.anyio


async def test_a_new_key_is_shown_once_and_works(client: AsyncSignoff) -> None:
    created = await client.api_keys.create(name="agent", scopes=["approvals:write"])
    assert created.key.startswith("sgn_live_")
    assert created.id.startswith("key_")
    assert created.scopes == ["approvals:write"]
    listed = {k.id: k for k in await client.api_keys.list().collect()}
    assert created.id in listed
    assert not hasattr(listed[created.id], "key")
    async with AsyncSignoff(created.key, client.base_url) as agent:
        approval = await agent.approvals.create(action="db.delete")
    assert approval.requested_by == created.id


async def test_scopes_are_enforced_and_named(client: AsyncSignoff) -> None:
    async with AsyncSignoff(await key_with(client, "approvals:write"), client.base_url) as agent:
        created = await agent.approvals.create(action="db.delete")
        with pytest.raises(PermissionDeniedError, match="approvals:read") as caught:
            await agent.approvals.get(created.id)
        assert caught.value.details["required_scope"] == "approvals:read"
        with pytest.raises(PermissionDeniedError, match="admin"):
            await agent.api_keys.create(name="escalate", scopes=["admin"])


async def test_a_revoked_key_stops_working_at_once(client: AsyncSignoff) -> None:
    key = await key_with(client, "approvals:read")
    async with AsyncSignoff(key, client.base_url) as reader:
        await reader.approvals.list().collect()
        key_id = "key_" + key.split("_")[2]
        revoked = await client.api_keys.revoke(key_id)
        assert revoked.revoked_at is not None
        with pytest.raises(AuthenticationError, match="revoked"):
            await reader.approvals.list().collect()


async def test_an_expired_key_is_refused(client: AsyncSignoff) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=1)
    created = await client.api_keys.create(name="brief", scopes=["admin"], expires_at=soon)
    async with AsyncSignoff(created.key, client.base_url, max_retries=0) as brief:
        await brief.api_keys.list().collect()  # valid until then
        refusal: AuthenticationError | None = None
        with anyio.fail_after(10):
            while refusal is None:  # works until the broker's clock passes expires_at
                try:
                    await brief.api_keys.list().collect()
                except AuthenticationError as exc:
                    refusal = exc
                await anyio.sleep(0.05)  # politeness, not synchronisation
        assert "expired" in str(refusal)
        assert datetime.now(UTC) >= soon


async def test_a_naive_expiry_is_refused_before_it_is_sent(client: AsyncSignoff) -> None:
    with pytest.raises(ValueError, match="timezone"):
        await client.api_keys.create(name="x", scopes=["admin"], expires_at=datetime.now())
