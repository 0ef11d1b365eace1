"""``POST /v1/actions/batch``: up to 100 items, each answered on its own, in request order."""

from __future__ import annotations

import pytest

from ..governed import add_policy, create_connection
from ..helpers import assert_error, client, mint_key

pytestmark = pytest.mark.anyio


def _item(connection_id: str, input: dict, **extra) -> dict:
    return {"connection_id": connection_id, "action_type": "echo", "input": input, **extra}


async def test_one_bad_item_never_fails_the_others(tenant, target) -> None:
    schema_types = {
        "refund": {
            "method": "POST",
            "path": "/r",
            "input_schema": {"type": "object", "required": ["amount"]},
        }
    }
    async with client(tenant.base_url, tenant.admin_key) as http:
        await add_policy(http, "echo.*", "allow", metadata={"mode": "auto"})
        await add_policy(http, "echo.*", "deny", metadata={"mode": "never"})
        echo = await create_connection(http)
        strict = await create_connection(
            http, "http", config={"base_url": target.url, "action_types": schema_types}
        )
        replayed = (
            await http.post(
                "/v1/actions",
                json=_item(echo["id"], {"i": "r"}, metadata={"mode": "auto"}),
                headers={"Idempotency-Key": "earlier"},
            )
        ).json()
        items = [
            _item(echo["id"], {"i": 0}, metadata={"mode": "auto"}),  # runs
            _item("con_missing", {}),  # 404
            {**_item(strict["id"], {}), "action_type": "refund"},  # 422 input
            {"connection_id": echo["id"], "input": {}},  # 422 malformed item
            {**_item(echo["id"], {}), "action_type": "shout"},  # 404 action type
            _item(echo["id"], {"i": 5}, metadata={"mode": "never"}),  # denied
            _item(echo["id"], {"i": 6}),  # waits for a human
            _item(echo["id"], {"i": "r"}, metadata={"mode": "auto"}, idempotency_key="earlier"),
            _item(echo["id"], {"i": 8}, metadata={"mode": "auto"}, idempotency_key="earlier"),
        ]
        response = await http.post("/v1/actions/batch", json={"items": items})
        runs = (await http.get("/v1/actions")).json()["data"]
    assert response.status_code == 200
    results = response.json()["data"]
    assert [r["status_code"] for r in results] == [201, 404, 422, 422, 404, 201, 201, 201, 422]
    assert results[0]["run"]["status"] == "succeeded"
    assert results[0]["run"]["result"] == {"i": 0}
    assert results[1]["error"]["type"] == "not_found"
    assert results[2]["error"]["details"] == {"path": "$.input.amount"}
    assert results[3]["error"]["details"] == {"path": "$.action_type"}
    assert results[4]["error"]["type"] == "not_found"
    assert results[5]["run"]["status"] == "denied"
    assert results[6]["run"]["status"] == "awaiting_approval"
    assert results[7]["run"] == replayed
    assert results[8]["error"]["type"] == "idempotency_key_reused"
    for result in results:
        assert (result["run"] is None) != (result["error"] is None)
    assert len(runs) == 4  # the earlier one, and three from this batch


async def test_the_batch_header_key_makes_a_retried_batch_replay(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        await add_policy(http, "echo.*", "allow")
        connection = await create_connection(http)
        body = {"items": [_item(connection["id"], {"i": i}) for i in range(3)]}
        headers = {"Idempotency-Key": "batch-1"}
        first = (await http.post("/v1/actions/batch", json=body, headers=headers)).json()
        again = (await http.post("/v1/actions/batch", json=body, headers=headers)).json()
        runs = (await http.get("/v1/actions")).json()["data"]
    assert again == first
    assert len(runs) == 3


async def test_items_with_their_own_keys_replay_one_by_one(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        await add_policy(http, "echo.*", "allow")
        connection = await create_connection(http)
        first = (
            await http.post(
                "/v1/actions/batch",
                json={"items": [_item(connection["id"], {"i": 0}, idempotency_key="k0")]},
            )
        ).json()
        second = (
            await http.post(
                "/v1/actions/batch",
                json={
                    "items": [
                        _item(connection["id"], {"i": 0}, idempotency_key="k0"),
                        _item(connection["id"], {"i": 1}, idempotency_key="k1"),
                    ]
                },
            )
        ).json()
    assert second["data"][0] == first["data"][0]
    assert second["data"][1]["run"]["result"] == {"i": 1}


@pytest.mark.parametrize("count", [0, 101])
async def test_a_batch_holds_1_to_100_items(tenant, count: int) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        connection = await create_connection(http)
        items = [_item(connection["id"], {}) for _ in range(count)]
        response = await http.post("/v1/actions/batch", json={"items": items})
    assert assert_error(response, 422, "validation_error")["details"]["path"] == "$.items"


async def test_a_full_batch_of_allowed_actions_all_run(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        await add_policy(http, "echo.*", "allow")
        connection = await create_connection(http)
        items = [_item(connection["id"], {"i": i}) for i in range(100)]
        results = (await http.post("/v1/actions/batch", json={"items": items})).json()["data"]
        events = (await http.get("/v1/events?types=action.*&limit=1000")).json()["data"]
    assert [r["run"]["result"] for r in results] == [{"i": i} for i in range(100)]
    assert {r["run"]["status"] for r in results} == {"succeeded"}
    assert len(events) == 200  # running, then succeeded, for each


async def test_a_batch_needs_actions_execute(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as admin:
        connection = await create_connection(admin)
        reader = await mint_key(admin, "actions:read")
    async with client(tenant.base_url, reader) as http:
        response = await http.post(
            "/v1/actions/batch", json={"items": [_item(connection["id"], {})]}
        )
    assert_error(response, 403, "insufficient_scope")
