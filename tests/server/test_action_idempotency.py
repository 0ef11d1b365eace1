"""One ``Idempotency-Key``, one execution: retries of an action while it runs are told to wait,
retries after it replay the finished run, and the target is called once."""

from __future__ import annotations

import anyio
import httpx
import pytest

from .governed import add_policy, create_connection, http_config, run_action
from .helpers import assert_error, client

pytestmark = pytest.mark.anyio

_INPUT = {"order_id": "o-42", "amount": 5}


async def test_retries_with_the_same_key_execute_once(tenant, target) -> None:
    target.hold()  # the service answers only when the test says so
    headers = {"Idempotency-Key": "refund-o-42"}
    responses: dict[str, httpx.Response] = {}
    async with client(tenant.base_url, tenant.admin_key) as http:
        await add_policy(http, "http.*", "allow")
        connection = await create_connection(http, "http", config=http_config(target.url))

        async def first() -> None:
            responses["first"] = await run_action(
                http, connection["id"], _INPUT, "refund", headers=headers
            )

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(first)
                await target.until_hits(1)  # the first request is executing now
                during = [
                    await run_action(http, connection["id"], _INPUT, "refund", headers=headers)
                    for _ in range(3)
                ]
                target.release()
        after = await run_action(http, connection["id"], _INPUT, "refund", headers=headers)
        other_body = await run_action(
            http, connection["id"], {**_INPUT, "amount": 6}, "refund", headers=headers
        )
        runs = (await http.get("/v1/actions")).json()["data"]
    for response in during:
        assert_error(response, 409, "idempotency_request_in_progress")
        assert response.headers["retry-after"] == "1"
    first_response = responses["first"]
    assert first_response.status_code == 201
    assert first_response.json()["status"] == "succeeded"
    assert (after.status_code, after.content) == (201, first_response.content)
    assert after.headers["idempotent-replayed"] == "true"
    assert_error(other_body, 422, "idempotency_key_reused")
    assert len(target.hits) == 1
    assert len(runs) == 1


async def test_a_batch_item_with_the_key_of_a_request_replays_it(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        await add_policy(http, "echo.*", "allow")
        connection = await create_connection(http)
        single = await run_action(
            http, connection["id"], {"a": 1}, headers={"Idempotency-Key": "shared-1"}
        )
        item = {
            "connection_id": connection["id"],
            "action_type": "echo",
            "input": {"a": 1},
            "idempotency_key": "shared-1",
        }
        batch = (await http.post("/v1/actions/batch", json={"items": [item]})).json()
        runs = (await http.get("/v1/actions")).json()["data"]
    assert batch["data"] == [{"status_code": 201, "run": single.json(), "error": None}]
    assert len(runs) == 1


async def test_a_replay_of_a_request_awaiting_approval_is_its_first_answer(tenant) -> None:
    headers = {"Idempotency-Key": "needs-a-human"}
    async with client(tenant.base_url, tenant.admin_key) as http:
        connection = await create_connection(http)
        first = await run_action(http, connection["id"], {}, headers=headers)
        await http.post(
            f"/v1/approvals/{first.json()['approval_id']}/decision", json={"decision": "deny"}
        )
        again = await run_action(http, connection["id"], {}, headers=headers)
        current = (await http.get(f"/v1/actions/{first.json()['id']}")).json()
    assert again.content == first.content  # the answer as first given: read the run for news
    assert again.json()["status"] == "awaiting_approval"
    assert current["status"] == "denied"


async def test_a_refused_request_claims_nothing(tenant) -> None:
    headers = {"Idempotency-Key": "fix-then-retry"}
    async with client(tenant.base_url, tenant.admin_key) as http:
        await add_policy(http, "echo.*", "allow")
        connection = await create_connection(http)
        refused = await run_action(http, "con_missing", {}, headers=headers)
        fixed = await run_action(http, connection["id"], {}, headers=headers)
    assert_error(refused, 404, "not_found")
    assert fixed.status_code == 201
    assert "idempotent-replayed" not in fixed.headers
