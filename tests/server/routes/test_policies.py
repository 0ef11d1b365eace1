"""``/v1/policies`` and what the rules do to new approvals."""

from __future__ import annotations

from datetime import datetime

import pytest

from ..helpers import assert_error, client, create_approval, mint_key

pytestmark = pytest.mark.anyio


async def _policy(http, **fields) -> dict:
    response = await http.post("/v1/policies", json=fields)
    assert response.status_code == 201, response.text
    body: dict = response.json()
    return body


async def test_allow_rule_approves_at_once(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        rule = await _policy(http, action="reports.*", effect="allow")
        approval = await create_approval(http, action="reports.daily")
    assert approval["status"] == "approved"
    assert approval["decided_by"] == f"policy:{rule['id']}"
    assert approval["policy_id"] == rule["id"]
    assert approval["version"] == 1


async def test_deny_rule_denies_at_once(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        rule = await _policy(http, action="db.drop_*", effect="deny")
        approval = await create_approval(http, action="db.drop_table")
    assert (approval["status"], approval["policy_id"]) == ("denied", rule["id"])


async def test_no_match_requires_a_human(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        await _policy(http, action="reports.*", effect="allow")
        approval = await create_approval(http, action="payments.refund")
    assert (approval["status"], approval["policy_id"]) == ("pending", None)


async def test_require_approval_applies_group_and_expiry(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        rule = await _policy(
            http,
            action="payments.*",
            effect="require_approval",
            approver_group="finance",
            expires_in=600,
        )
        approval = await create_approval(http, action="payments.refund")
        asked = await create_approval(http, action="payments.refund", expires_in=60)
    assert (approval["status"], approval["approver_group"]) == ("pending", "finance")
    assert approval["policy_id"] == rule["id"]
    lifetime = datetime.fromisoformat(approval["expires_at"]) - datetime.fromisoformat(
        approval["created_at"]
    )
    assert lifetime.total_seconds() == 600
    asked_lifetime = datetime.fromisoformat(asked["expires_at"]) - datetime.fromisoformat(
        asked["created_at"]
    )
    assert asked_lifetime.total_seconds() == 60  # the request's expires_in wins


async def test_default_expiry_without_a_rule(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        approval = await create_approval(http)
    lifetime = datetime.fromisoformat(approval["expires_at"]) - datetime.fromisoformat(
        approval["created_at"]
    )
    assert lifetime.total_seconds() == 86_400


async def test_higher_priority_wins_and_ties_go_to_the_oldest(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        await _policy(http, action="*", effect="deny", priority=1)
        allow = await _policy(http, action="ops.*", effect="allow", priority=10)
        await _policy(http, action="ops.restart", effect="deny", priority=10)
        approval = await create_approval(http, action="ops.restart")
        listed = (await http.get("/v1/policies")).json()["data"]
    assert approval["policy_id"] == allow["id"]
    assert [p["priority"] for p in listed] == [10, 10, 1]
    assert listed[0]["id"] == allow["id"]


async def test_metadata_conditions_must_all_match_exactly(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        rule = await _policy(
            http, action="payments.?efund", effect="allow", metadata={"env": "dev", "small": True}
        )
        match = await create_approval(
            http, action="payments.refund", metadata={"env": "dev", "small": True, "x": 1}
        )
        partial = await create_approval(http, action="payments.refund", metadata={"env": "dev"})
        wrong_type = await create_approval(
            http, action="payments.refund", metadata={"env": "dev", "small": 1}
        )
        wrong_glob = await create_approval(
            http, action="payments.xxrefund", metadata={"env": "dev", "small": True}
        )
    assert match["policy_id"] == rule["id"]
    assert [a["status"] for a in (partial, wrong_type, wrong_glob)] == ["pending"] * 3


async def test_delete_returns_the_rule_and_it_stops_applying(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        rule = await _policy(http, action="*", effect="deny")
        deleted = await http.delete(f"/v1/policies/{rule['id']}")
        again = await http.delete(f"/v1/policies/{rule['id']}")
        approval = await create_approval(http)
    assert deleted.json() == rule
    assert_error(again, 404, "not_found")
    assert approval["status"] == "pending"


async def test_policy_routes_need_admin_and_are_per_tenant(tenant, other_tenant) -> None:
    async with client(other_tenant.base_url, other_tenant.admin_key) as theirs:
        foreign = await _policy(theirs, action="*", effect="deny")
    async with client(tenant.base_url, tenant.admin_key) as http:
        weak = await mint_key(http, "approvals:write", "approvals:read")
        missing = await http.delete(f"/v1/policies/{foreign['id']}")
        listed = (await http.get("/v1/policies")).json()["data"]
        approval = await create_approval(http)  # their deny-all does not apply here
    async with client(tenant.base_url, weak) as agent:
        forbidden = await agent.post("/v1/policies", json={"action": "*", "effect": "allow"})
    assert_error(missing, 404, "not_found")
    assert listed == []
    assert approval["status"] == "pending"
    assert (
        assert_error(forbidden, 403, "insufficient_scope")["details"]["required_scope"] == "admin"
    )


async def test_invalid_rule_is_422_naming_the_field(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        response = await http.post("/v1/policies", json={"action": "*", "effect": "maybe"})
    assert assert_error(response, 422, "validation_error")["details"]["path"] == "$.effect"
