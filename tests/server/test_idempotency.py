"""``Idempotency-Key`` on POSTs: replay, reuse with another body, in progress, bad keys."""

from __future__ import annotations

import anyio
import httpx
import pytest

from signoff.server.idempotency import fingerprint

from .governed import add_policy, create_connection, http_config, run_action
from .helpers import assert_error, client, mint_key

pytestmark = pytest.mark.anyio


async def test_same_key_and_body_replays_and_creates_one_approval(tenant) -> None:
    headers = {"Idempotency-Key": "order-1"}
    async with client(tenant.base_url, tenant.admin_key) as http:
        first = await http.post("/v1/approvals", json={"action": "a.b"}, headers=headers)
        second = await http.post("/v1/approvals", json={"action": "a.b"}, headers=headers)
        listed = (await http.get("/v1/approvals")).json()["data"]
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(listed) == 1


async def test_same_key_with_another_body_is_422(tenant) -> None:
    headers = {"Idempotency-Key": "order-2"}
    async with client(tenant.base_url, tenant.admin_key) as http:
        await http.post("/v1/approvals", json={"action": "a.b"}, headers=headers)
        other = await http.post("/v1/approvals", json={"action": "a.c"}, headers=headers)
        other_path = await http.post(
            "/v1/policies", json={"action": "a.b", "effect": "allow"}, headers=headers
        )
    assert_error(other, 422, "idempotency_key_reused")
    assert_error(other_path, 422, "idempotency_key_reused")


async def test_keys_are_scoped_to_the_tenant(tenant, other_tenant) -> None:
    headers = {"Idempotency-Key": "shared"}
    async with client(tenant.base_url, tenant.admin_key) as mine:
        a = await mine.post("/v1/approvals", json={"action": "a.b"}, headers=headers)
    async with client(other_tenant.base_url, other_tenant.admin_key) as theirs:
        b = await theirs.post("/v1/approvals", json={"action": "a.b"}, headers=headers)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert "idempotent-replayed" not in b.headers


async def test_replayed_decision_is_not_a_conflict(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        approval = (await http.post("/v1/approvals", json={"action": "a.b"})).json()
        path = f"/v1/approvals/{approval['id']}/decision"
        headers = {"Idempotency-Key": "decide-1"}
        first = await http.post(path, json={"decision": "approve"}, headers=headers)
        retry = await http.post(path, json={"decision": "approve"}, headers=headers)
        fresh = await http.post(path, json={"decision": "approve"})
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.content == first.content
    assert_error(fresh, 409, "approval_not_pending")


async def test_failed_validation_is_not_recorded(tenant) -> None:
    headers = {"Idempotency-Key": "fix-and-retry"}
    async with client(tenant.base_url, tenant.admin_key) as http:
        bad = await http.post("/v1/approvals", json={"action": ""}, headers=headers)
        good = await http.post("/v1/approvals", json={"action": "a.b"}, headers=headers)
    assert bad.status_code == 422
    assert good.status_code == 201
    assert "idempotent-replayed" not in good.headers


async def test_failed_authorization_is_not_recorded(tenant) -> None:
    headers = {"Idempotency-Key": "scope-then-retry"}
    async with client(tenant.base_url, tenant.admin_key) as admin:
        reader = await mint_key(admin, "approvals:read")
        async with client(tenant.base_url, reader) as http:
            denied = await http.post("/v1/approvals", json={"action": "a.b"}, headers=headers)
        allowed = await admin.post("/v1/approvals", json={"action": "a.b"}, headers=headers)
    assert denied.status_code == 403
    assert allowed.status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
async def test_malformed_key_is_400(tenant, key: str) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        response = await http.post(
            "/v1/approvals",
            json={"action": "a.b"},
            headers=[("Idempotency-Key", key.encode("utf-8"))],
        )
    error = assert_error(response, 400, "invalid_request")
    assert error["details"]["parameter"] == "Idempotency-Key"


async def test_a_key_still_in_progress_is_409_with_retry_after(tenant, target) -> None:
    # An allowed action whose service holds its answer: its key stays claimed, in progress,
    # until the execution is recorded.
    target.hold()
    headers = {"Idempotency-Key": "running-1"}
    input = {"order_id": "o-1", "amount": 1}
    first: dict[str, httpx.Response] = {}
    async with client(tenant.base_url, tenant.admin_key) as http:
        await add_policy(http, "http.*", "allow")
        connection = await create_connection(http, "http", config=http_config(target.url))

        async def run_first() -> None:
            first["response"] = await run_action(
                http, connection["id"], input, "refund", headers=headers
            )

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(run_first)
                await target.until_hits(1)
                during = await run_action(http, connection["id"], input, "refund", headers=headers)
                target.release()
        replay = await run_action(http, connection["id"], input, "refund", headers=headers)
    assert_error(during, 409, "idempotency_request_in_progress")
    assert during.headers["retry-after"] == "1"
    assert (replay.status_code, replay.content) == (201, first["response"].content)
    assert replay.headers["idempotent-replayed"] == "true"


async def test_api_key_creation_is_never_replayed_with_its_secret(tenant) -> None:
    headers = {"Idempotency-Key": "mint-1"}
    body = {"name": "agent", "scopes": ["approvals:read"]}
    async with client(tenant.base_url, tenant.admin_key) as http:
        first = await http.post("/v1/api-keys", json=body, headers=headers)
        retry = await http.post("/v1/api-keys", json=body, headers=headers)
        listed = (await http.get("/v1/api-keys")).json()["data"]
    assert first.status_code == 201
    error = assert_error(retry, 409, "secret_not_replayable")
    assert error["details"]["response"]["id"] == first.json()["id"]
    assert first.json()["key"] not in retry.text
    assert len(listed) == 2  # the tenant's admin key and this one: no second mint


def test_fingerprint_ignores_key_order_and_whitespace() -> None:
    a = fingerprint("POST", "/v1/approvals", b'{"a": 1, "b": {"y": 2, "x": 1}}')
    b = fingerprint("POST", "/v1/approvals", b'{"b":{"x":1,"y":2},"a":1}')
    c = fingerprint("POST", "/v1/policies", b'{"b":{"x":1,"y":2},"a":1}')
    assert a == b != c
