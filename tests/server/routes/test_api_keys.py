"""``/v1/api-keys``: mint, list, revoke; what a key can do right after."""

from __future__ import annotations

from datetime import timedelta

import pytest

from signoff.server.ids import utcnow

from ..helpers import assert_error, client, key_id_of, mint_key

pytestmark = pytest.mark.anyio


async def test_create_shows_the_secret_once_and_the_key_works(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as admin:
        response = await admin.post(
            "/v1/api-keys", json={"name": "agent", "scopes": ["approvals:read", "approvals:write"]}
        )
        listed = (await admin.get("/v1/api-keys")).json()["data"]
    created = response.json()
    assert response.status_code == 201
    assert created["key"].startswith("sgn_live_")
    assert created["id"] == key_id_of(created["key"])
    assert created["prefix"] == created["key"].rsplit("_", 1)[0]
    assert created["scopes"] == ["approvals:read", "approvals:write"]
    assert all("key" not in item for item in listed)
    assert created["id"] in {item["id"] for item in listed}
    async with client(tenant.base_url, created["key"]) as agent:
        assert (await agent.get("/v1/approvals")).status_code == 200


async def test_revoked_key_is_401_at_once(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as admin:
        key = await mint_key(admin, "approvals:read")
        async with client(tenant.base_url, key) as agent:
            assert (await agent.get("/v1/approvals")).status_code == 200
            revoked = await admin.delete(f"/v1/api-keys/{key_id_of(key)}")
            after = await agent.get("/v1/approvals")
        again = await admin.delete(f"/v1/api-keys/{key_id_of(key)}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert_error(after, 401, "unauthorized")
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]  # revoking is idempotent


async def test_a_keys_last_use_is_recorded_in_the_background(tenant) -> None:
    import anyio

    async with client(tenant.base_url, tenant.admin_key) as admin:
        key = await mint_key(admin, "approvals:read")

        async def last_used() -> str | None:
            listed = (await admin.get("/v1/api-keys")).json()["data"]
            return next(item["last_used_at"] for item in listed if item["id"] == key_id_of(key))

        before = await last_used()
        async with client(tenant.base_url, key) as agent:
            used = await agent.get("/v1/approvals")
        with anyio.fail_after(5):  # written after the answer, by the broker's background task
            while (after := await last_used()) is None:
                await anyio.sleep(0.01)
    assert used.status_code == 200
    assert (before, after is not None) == (None, True)


async def test_expired_key_is_401(tenant) -> None:
    import anyio

    soon = (utcnow() + timedelta(seconds=3)).isoformat()  # room for a slow, loaded machine
    async with client(tenant.base_url, tenant.admin_key) as admin:
        key = await mint_key(admin, "approvals:read", expires_at=soon)
    async with client(tenant.base_url, key) as agent:
        before = await agent.get("/v1/approvals")
        with anyio.fail_after(15):
            while (after := await agent.get("/v1/approvals")).status_code == 200:
                await anyio.sleep(0.05)
    assert before.status_code == 200
    error = assert_error(after, 401, "unauthorized")
    assert "expired" in error["message"]


async def test_expires_at_in_the_past_is_422(tenant) -> None:
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    async with client(tenant.base_url, tenant.admin_key) as admin:
        response = await admin.post(
            "/v1/api-keys", json={"name": "x", "scopes": ["admin"], "expires_at": past}
        )
    assert assert_error(response, 422, "validation_error")["details"]["path"] == "$.expires_at"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "no API key"),
        ("Bearer nonsense", "malformed"),
        ("Basic c2du", "malformed"),
        ("Bearer sgn_live_AAAAAAAAAAAA_" + "A" * 43, "unknown"),
    ],
)
async def test_missing_or_bad_keys_are_401(tenant, header: str | None, message: str) -> None:
    async with client(tenant.base_url, None) as http:
        headers = {"Authorization": header} if header else {}
        response = await http.get("/v1/approvals", headers=headers)
    error = assert_error(response, 401, "unauthorized")
    assert message in error["message"]


async def test_a_right_id_with_a_wrong_secret_is_401(tenant) -> None:
    forged = tenant.admin_key[:-5] + (
        "AAAAA" if not tenant.admin_key.endswith("AAAAA") else "BBBBB"
    )
    async with client(tenant.base_url, forged) as http:
        assert_error(await http.get("/v1/approvals"), 401, "unauthorized")


async def test_key_routes_need_admin(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as admin:
        key = await mint_key(admin, "approvals:read", "approvals:write", "approvals:decide")
    async with client(tenant.base_url, key) as http:
        responses = [
            await http.post("/v1/api-keys", json={"name": "x", "scopes": ["admin"]}),
            await http.get("/v1/api-keys"),
            await http.delete(f"/v1/api-keys/{key_id_of(key)}"),
        ]
    for response in responses:
        assert (
            assert_error(response, 403, "insufficient_scope")["details"]["required_scope"]
            == "admin"
        )


async def test_another_tenants_key_is_404_and_unlisted(tenant, other_tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        response = await http.delete(f"/v1/api-keys/{key_id_of(other_tenant.admin_key)}")
        listed = (await http.get("/v1/api-keys")).json()["data"]
    assert_error(response, 404, "not_found")
    assert key_id_of(other_tenant.admin_key) not in {item["id"] for item in listed}
    async with client(other_tenant.base_url, other_tenant.admin_key) as theirs:
        assert (await theirs.get("/v1/api-keys")).status_code == 200  # still works


async def test_list_pages(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as admin:
        for _ in range(3):
            await mint_key(admin, "approvals:read")
        first = (await admin.get("/v1/api-keys?limit=2")).json()
        second = (await admin.get(f"/v1/api-keys?limit=2&cursor={first['next_cursor']}")).json()
    assert len(first["data"]) == 2
    assert len(second["data"]) == 2
    assert second["next_cursor"] is None
    assert not {k["id"] for k in first["data"]} & {k["id"] for k in second["data"]}
