"""``/v1/actions`` over real HTTP: validation, the three policy outcomes, what a settled
approval does to its run, reads, long-poll, stream, isolation and scopes."""

from __future__ import annotations

import json
from datetime import datetime

import anyio
import pytest

from ..governed import add_policy, create_connection, http_config, run_action
from ..helpers import (
    HTTPX_STREAM_GC,
    assert_error,
    client,
    key_id_of,
    mint_key,
    next_event,
    sse,
    until_streams_open,
)

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings(HTTPX_STREAM_GC)]

_ORDER_SCHEMA = {
    "type": "object",
    "properties": {
        "order": {
            "type": "object",
            "properties": {"amount": {"type": "integer", "minimum": 1}},
            "required": ["amount"],
        }
    },
    "required": ["order"],
}


async def test_input_failing_the_schema_is_422_naming_the_path(tenant, target) -> None:
    config = {
        "base_url": target.url,
        "action_types": {"refund": {"method": "POST", "path": "/r", "input_schema": _ORDER_SCHEMA}},
    }
    async with client(tenant.base_url, tenant.admin_key) as http:
        connection = await create_connection(http, "http", config=config)
        missing = await run_action(http, connection["id"], {}, "refund")
        nested = await run_action(http, connection["id"], {"order": {}}, "refund")
        too_small = await run_action(http, connection["id"], {"order": {"amount": 0}}, "refund")
        wrong_type = await run_action(http, connection["id"], {"order": "x"}, "refund")
        runs = (await http.get("/v1/actions")).json()["data"]
    assert assert_error(missing, 422, "validation_error")["details"] == {"path": "$.input.order"}
    assert (
        assert_error(nested, 422, "validation_error")["details"]["path"] == "$.input.order.amount"
    )
    error = assert_error(too_small, 422, "validation_error")
    assert error["details"]["path"] == "$.input.order.amount"
    assert "minimum" in error["message"]
    assert assert_error(wrong_type, 422, "validation_error")["details"]["path"] == "$.input.order"
    assert runs == []  # nothing was created, nothing called
    assert target.hits == []


async def test_unknown_connection_and_action_type_are_404(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        connection = await create_connection(http)
        no_connection = await run_action(http, "con_nope", {})
        no_type = await run_action(http, connection["id"], {}, "shout")
        bad_body = await http.post("/v1/actions", json={"connection_id": connection["id"]})
    assert_error(no_connection, 404, "not_found")
    assert "echo" in assert_error(no_type, 404, "not_found")["message"]
    assert assert_error(bad_body, 422, "validation_error")["details"]["path"] == "$.action_type"


async def test_allowed_action_runs_before_the_answer(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        policy = await add_policy(http, "echo.*", "allow")
        connection = await create_connection(http)
        response = await run_action(http, connection["id"], {"n": 1}, metadata={"team": "a"})
        events = (await http.get("/v1/events?types=action.*")).json()["data"]
    assert response.status_code == 201
    run = response.json()
    assert run["id"].startswith("run_")
    assert (run["status"], run["outcome"], run["policy_id"]) == ("succeeded", "allow", policy["id"])
    assert (run["result"], run["error"], run["approval_id"]) == ({"n": 1}, None, None)
    assert run["metadata"] == {"team": "a"}
    assert run["version"] == 2
    assert run["started_at"] is not None
    assert run["completed_at"] is not None
    assert run["requested_by"] == key_id_of(tenant.admin_key)
    assert [e["type"] for e in events] == ["action.running", "action.succeeded"]
    assert events[-1]["data"] == run  # the last event is exactly the run answered


async def test_denied_action_never_runs(tenant, target) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        policy = await add_policy(http, "http.refund", "deny")
        connection = await create_connection(http, "http", config=http_config(target.url))
        response = await run_action(
            http, connection["id"], {"order_id": "o1", "amount": 5}, "refund"
        )
    run = response.json()
    assert response.status_code == 201
    assert (run["status"], run["outcome"], run["policy_id"]) == ("denied", "deny", policy["id"])
    assert run["completed_at"] is not None
    assert target.hits == []


async def test_without_a_rule_a_human_must_approve(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        connection = await create_connection(http, name="payments")
        run = (await run_action(http, connection["id"], {"n": 1}, metadata={"k": "v"})).json()
        approval = (await http.get(f"/v1/approvals/{run['approval_id']}")).json()
    assert (run["status"], run["outcome"], run["result"]) == (
        "awaiting_approval",
        "require_approval",
        None,
    )
    assert approval["status"] == "pending"
    assert approval["action"] == "echo.echo"
    assert approval["arguments"] == {"n": 1}
    assert approval["metadata"] == {"k": "v"}
    assert approval["context"] == {"run_id": run["id"], "connection_id": connection["id"]}
    assert approval["summary"] == "Run echo.echo through connection 'payments'"


async def test_the_rules_expiry_and_approver_group_reach_the_approval(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        policy = await add_policy(
            http, "echo.*", "require_approval", expires_in=120, approver_group="finance"
        )
        connection = await create_connection(http)
        run = (await run_action(http, connection["id"], {})).json()
        approval = (await http.get(f"/v1/approvals/{run['approval_id']}")).json()
    assert (run["outcome"], run["policy_id"]) == ("require_approval", policy["id"])
    assert (approval["approver_group"], approval["policy_id"]) == ("finance", policy["id"])
    lifetime = datetime.fromisoformat(approval["expires_at"]) - datetime.fromisoformat(
        approval["created_at"]
    )
    assert lifetime.total_seconds() == 120


async def test_an_approved_run_executes(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        connection = await create_connection(http)
        run = (await run_action(http, connection["id"], {"n": 2})).json()
        decided = await http.post(
            f"/v1/approvals/{run['approval_id']}/decision", json={"decision": "approve"}
        )
        with anyio.fail_after(5):
            done = (await http.get(f"/v1/actions/{run['id']}?wait=5&after_version=2")).json()
        events = (await http.get(f"/v1/audit?subject_id={run['id']}")).json()["data"]
    assert decided.status_code == 200
    assert (done["status"], done["result"], done["version"]) == ("succeeded", {"n": 2}, 3)
    assert [e["type"] for e in events] == [
        "action.awaiting_approval",
        "action.running",
        "action.succeeded",
    ]
    # The run moved in the decision's own transaction, by the decider.
    assert events[1]["actor"] == key_id_of(tenant.admin_key)


@pytest.mark.parametrize(
    ("settle", "status"),
    [("deny", "denied"), ("cancel", "cancelled")],
)
async def test_a_denied_or_cancelled_approval_settles_its_run(tenant, settle, status) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        connection = await create_connection(http)
        run = (await run_action(http, connection["id"], {})).json()
        path = f"/v1/approvals/{run['approval_id']}"
        if settle == "deny":
            await http.post(f"{path}/decision", json={"decision": "deny"})
        else:
            await http.post(f"{path}/cancel")
        # Same transaction as the decision: the run has moved by the time it is answered.
        current = (await http.get(f"/v1/actions/{run['id']}")).json()
    assert (current["status"], current["result"]) == (status, None)
    assert current["completed_at"] is not None


async def test_an_expired_approval_cancels_its_run(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        await add_policy(http, "echo.*", "require_approval", expires_in=1)
        connection = await create_connection(http)
        run = (await run_action(http, connection["id"], {})).json()
        with anyio.fail_after(5):
            current = (await http.get(f"/v1/actions/{run['id']}?wait=5")).json()
        approval = (await http.get(f"/v1/approvals/{run['approval_id']}")).json()
    assert approval["status"] == "expired"
    assert current["status"] == "cancelled"


async def test_a_run_on_a_deleted_connection_fails_once_approved(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        connection = await create_connection(http)
        run = (await run_action(http, connection["id"], {})).json()
        await http.delete(f"/v1/connections/{connection['id']}")
        await http.post(
            f"/v1/approvals/{run['approval_id']}/decision", json={"decision": "approve"}
        )
        with anyio.fail_after(5):
            done = (await http.get(f"/v1/actions/{run['id']}?wait=5&after_version=2")).json()
    assert done["status"] == "failed"
    assert done["error"]["type"] == "connection_deleted"


@pytest.fixture
def delete_after_the_check(broker, monkeypatch):
    """``delete_after_the_check(tenant_id, connection_id)``: the next time the broker reads
    that connection to check a request, it is deleted right after (before the run's write)."""
    store = broker.store
    read = store.get_connections
    doomed: set[tuple[str, str]] = set()

    async def read_then_delete(tenant_id, connection_ids):
        found = await read(tenant_id, connection_ids)
        for connection_id in connection_ids:
            if (tenant_id, connection_id) in doomed:
                doomed.discard((tenant_id, connection_id))
                await store.delete_connection(tenant_id, connection_id, actor="key_test")
        return found

    monkeypatch.setattr(store, "get_connections", read_then_delete)
    return lambda tenant_id, connection_id: doomed.add((tenant_id, connection_id))


async def test_a_connection_deleted_after_the_check_runs_nothing(
    tenant, target, delete_after_the_check
) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        await add_policy(http, "http.*", "allow")
        connection = await create_connection(http, "http", config=http_config(target.url))
        delete_after_the_check(tenant.id, connection["id"])
        response = await run_action(
            http,
            connection["id"],
            {"order_id": "o1", "amount": 1},
            "refund",
            headers={"Idempotency-Key": "gone-1"},
        )
        runs = (await http.get("/v1/actions")).json()["data"]
        deleted = await http.get(f"/v1/connections/{connection['id']}")
    assert_error(response, 404, "not_found")
    assert connection["id"] in response.json()["error"]["message"]
    assert deleted.status_code == 404  # the delete did land between the check and the write
    assert runs == []
    assert target.hits == []


async def test_a_batch_item_whose_connection_was_deleted_after_the_check_is_404(
    tenant, target, delete_after_the_check
) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        await add_policy(http, "*", "allow")
        doomed = await create_connection(http, "http", config=http_config(target.url))
        live = await create_connection(http)
        delete_after_the_check(tenant.id, doomed["id"])
        items = [
            {
                "connection_id": doomed["id"],
                "action_type": "refund",
                "input": {"order_id": "o1", "amount": 1},
            },
            {"connection_id": live["id"], "action_type": "echo", "input": {"n": 1}},
        ]
        batch = (await http.post("/v1/actions/batch", json={"items": items})).json()["data"]
        runs = (await http.get("/v1/actions")).json()["data"]
    assert [item["status_code"] for item in batch] == [404, 201]
    assert batch[0]["error"]["type"] == "not_found"
    assert batch[1]["run"]["status"] == "succeeded"
    assert [run["connection_id"] for run in runs] == [live["id"]]
    assert target.hits == []


async def test_long_poll_returns_at_once_for_a_terminal_run(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        await add_policy(http, "echo.*", "allow")
        connection = await create_connection(http)
        run = (await run_action(http, connection["id"], {})).json()
        with anyio.fail_after(2):
            held = await http.get(f"/v1/actions/{run['id']}?wait=20&after_version=0")
    assert held.json() == run


async def test_the_stream_sends_the_snapshot_then_each_change_and_closes(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        connection = await create_connection(http)
        run = (await run_action(http, connection["id"], {"x": 1})).json()
        with anyio.fail_after(5):
            async with sse(http, f"/v1/actions/{run['id']}/events") as (response, stream):
                snapshot = await next_event(stream)
                await http.post(
                    f"/v1/approvals/{run['approval_id']}/decision", json={"decision": "approve"}
                )
                changes = [await next_event(stream), await next_event(stream)]
                rest = [item async for item in stream if item.comment is None]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert (snapshot.event, snapshot.id) == ("action.snapshot", "1")
    assert [(c.event, c.id) for c in changes] == [
        ("action.running", "2"),
        ("action.succeeded", "3"),
    ]
    assert json.loads(changes[-1].data or "")["result"] == {"x": 1}
    assert rest == []


async def test_list_filters_and_pages_newest_first(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        await add_policy(http, "echo.*", "allow", metadata={"mode": "auto"})
        first = await create_connection(http)
        second = await create_connection(http)
        auto = [
            (await run_action(http, first["id"], {"i": i}, metadata={"mode": "auto"})).json()
            for i in range(3)
        ]
        waiting = (await run_action(http, second["id"], {})).json()
        everything = (await http.get("/v1/actions")).json()
        by_status = (await http.get("/v1/actions?status=awaiting_approval")).json()
        by_connection = (await http.get(f"/v1/actions?connection_id={first['id']}")).json()
        by_type = (await http.get("/v1/actions?action_type=echo&limit=2")).json()
        by_id = (await http.get(f"/v1/actions?id={auto[0]['id']},{waiting['id']}")).json()
        next_page = (await http.get(f"/v1/actions?cursor={by_type['next_cursor']}")).json()
        bad_status = await http.get("/v1/actions?status=done")
        too_many = await http.get("/v1/actions", params={"id": ",".join(["run_x"] * 101)})
    ids = [run["id"] for run in [*auto, waiting]]
    assert [r["id"] for r in everything["data"]] == ids[::-1]
    assert [r["id"] for r in by_status["data"]] == [waiting["id"]]
    assert [r["id"] for r in by_connection["data"]] == [r["id"] for r in auto][::-1]
    assert [r["id"] for r in by_type["data"]] == ids[::-1][:2]
    assert [r["id"] for r in next_page["data"]] == ids[::-1][2:]
    assert {r["id"] for r in by_id["data"]} == {auto[0]["id"], waiting["id"]}
    assert_error(bad_status, 400, "invalid_request")
    assert_error(too_many, 400, "invalid_request")


async def test_runs_are_invisible_to_another_tenant(tenant, other_tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        connection = await create_connection(http)
        run = (await run_action(http, connection["id"], {})).json()
    async with client(other_tenant.base_url, other_tenant.admin_key) as theirs:
        got = await theirs.get(f"/v1/actions/{run['id']}")
        stream = await theirs.get(f"/v1/actions/{run['id']}/events")
        evidence = await theirs.get(f"/v1/actions/{run['id']}/evidence")
        listed = (await theirs.get("/v1/actions")).json()["data"]
        through = await run_action(theirs, connection["id"], {})
        approve = await theirs.post(
            f"/v1/approvals/{run['approval_id']}/decision", json={"decision": "approve"}
        )
    for response in (got, stream, evidence, through, approve):
        assert_error(response, 404, "not_found")
    assert listed == []


async def test_scopes_execute_read_and_audit(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as admin:
        await add_policy(admin, "echo.*", "allow")
        connection = await create_connection(admin)
        executor = await mint_key(admin, "actions:execute")
        reader = await mint_key(admin, "actions:read")
        auditor = await mint_key(admin, "audit:read")
    async with client(tenant.base_url, executor) as http:
        ran = await run_action(http, connection["id"], {})
        cannot_read = await http.get(f"/v1/actions/{ran.json()['id']}")
    run_id = ran.json()["id"]
    async with client(tenant.base_url, reader) as http:
        read = await http.get(f"/v1/actions/{run_id}")
        listed = await http.get("/v1/actions")
        cannot_run = await run_action(http, connection["id"], {})
        cannot_see_evidence = await http.get(f"/v1/actions/{run_id}/evidence")
        cannot_create_connection = await http.post(
            "/v1/connections", json={"name": "x", "connector": "echo"}
        )
    async with client(tenant.base_url, auditor) as http:
        evidence = await http.get(f"/v1/actions/{run_id}/evidence")
        cannot_list = await http.get("/v1/actions")
    assert ran.status_code == 201
    assert (read.status_code, listed.status_code, evidence.status_code) == (200, 200, 200)
    for denied in (
        cannot_read,
        cannot_run,
        cannot_see_evidence,
        cannot_create_connection,
        cannot_list,
    ):
        assert_error(denied, 403, "insufficient_scope")


async def test_action_events_are_visible_with_actions_read_only(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as admin:
        connection = await create_connection(admin)
        await run_action(admin, connection["id"], {})
        reader = await mint_key(admin, "actions:read")
        approver = await mint_key(admin, "approvals:read")
    async with client(tenant.base_url, reader) as http:
        seen_by_reader = [e["type"] for e in (await http.get("/v1/events")).json()["data"]]
    async with client(tenant.base_url, approver) as http:
        seen_by_approver = [e["type"] for e in (await http.get("/v1/events")).json()["data"]]
    assert seen_by_reader == ["action.awaiting_approval"]
    assert seen_by_approver == ["approval.created"]


async def test_a_long_poll_is_woken_by_the_decision(broker, tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        connection = await create_connection(http)
        run = (await run_action(http, connection["id"], {})).json()
        result: dict[str, object] = {}
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tasks:

                async def poll() -> None:
                    response = await http.get(f"/v1/actions/{run['id']}?wait=20&after_version=1")
                    result.update(response.json())

                tasks.start_soon(poll)
                await until_streams_open(broker, tenant.admin_key, 1)
                await http.post(
                    f"/v1/approvals/{run['approval_id']}/decision", json={"decision": "deny"}
                )
    assert result["status"] == "denied"
