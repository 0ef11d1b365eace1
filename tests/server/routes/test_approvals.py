"""``/v1/approvals`` over real HTTP: create, read, list, decide, cancel, long-poll, stream."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

from ..helpers import (
    HTTPX_STREAM_GC,
    assert_error,
    client,
    create_approval,
    mint_key,
    next_event,
    sse,
    until_streams_open,
)

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings(HTTPX_STREAM_GC)]


async def test_create_returns_a_pending_approval_with_defaults(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        response = await http.post(
            "/v1/approvals",
            json={"action": "payments.refund", "summary": "Refund $42", "arguments": {"a": 1}},
        )
    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("apr_")
    assert body["status"] == "pending"
    assert body["version"] == 1
    assert body["arguments"] == {"a": 1}
    assert body["requested_by"].startswith("key_")
    assert body["expires_at"] is not None
    assert response.headers["x-request-id"]


async def test_get_returns_the_approval_and_404_for_unknown_ids(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        created = await create_approval(http)
        got = await http.get(f"/v1/approvals/{created['id']}")
        missing = await http.get("/v1/approvals/apr_doesnotexist")
    assert got.status_code == 200
    assert got.json() == created
    assert_error(missing, 404, "not_found")


async def test_dedup_key_returns_the_pending_approval_with_200(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        first = await http.post("/v1/approvals", json={"action": "a.b", "dedup_key": "k1"})
        second = await http.post("/v1/approvals", json={"action": "a.b", "dedup_key": "k1"})
        await http.post(f"/v1/approvals/{first.json()['id']}/cancel")
        third = await http.post("/v1/approvals", json={"action": "a.b", "dedup_key": "k1"})
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert third.status_code == 201  # the first is no longer pending
    assert third.json()["id"] != first.json()["id"]


async def test_list_is_newest_first_and_pages_with_cursors(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        ids = [(await create_approval(http))["id"] for _ in range(5)]
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await http.get("/v1/approvals", params=params)).json()
            seen.extend(item["id"] for item in page["data"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert seen == list(reversed(ids))


async def test_list_filters_by_status_action_and_id(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        a = await create_approval(http, action="x.one")
        b = await create_approval(http, action="x.two")
        c = await create_approval(http, action="x.two")
        await http.post(f"/v1/approvals/{c['id']}/cancel")
        by_status = (await http.get("/v1/approvals?status=cancelled")).json()["data"]
        by_two = (
            await http.get(
                "/v1/approvals", params={"status": "pending,cancelled", "action": "x.two"}
            )
        ).json()["data"]
        by_id = (await http.get(f"/v1/approvals?id={a['id']}&id={b['id']}")).json()["data"]
    assert [x["id"] for x in by_status] == [c["id"]]
    assert [x["id"] for x in by_two] == [c["id"], b["id"]]
    assert {x["id"] for x in by_id} == {a["id"], b["id"]}


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("status=bogus", "status"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=abc", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("id=" + ",".join(f"apr_{i}" for i in range(101)), "id"),
    ],
)
async def test_list_rejects_bad_query_parameters(tenant, query: str, parameter: str) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        response = await http.get(f"/v1/approvals?{query}")
    error = assert_error(response, 400, "invalid_request")
    assert error["details"]["parameter"] == parameter


async def test_decision_approves_and_bumps_version(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        created = await create_approval(http)
        response = await http.post(
            f"/v1/approvals/{created['id']}/decision",
            json={"decision": "deny", "comment": "no"},
        )
    body = response.json()
    assert response.status_code == 200
    assert (body["status"], body["version"], body["comment"]) == ("denied", 2, "no")
    assert body["decided_by"] == created["requested_by"]
    assert body["updated_at"] > created["updated_at"]


async def test_second_decision_is_a_conflict_naming_who_decided(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        created = await create_approval(http)
        path = f"/v1/approvals/{created['id']}/decision"
        first = await http.post(path, json={"decision": "approve"})
        second = await http.post(path, json={"decision": "deny"})
    error = assert_error(second, 409, "approval_not_pending")
    assert "approved" in error["message"]
    assert first.json()["decided_by"] in error["message"]


async def test_concurrent_decisions_have_exactly_one_winner(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        created = await create_approval(http)
        path = f"/v1/approvals/{created['id']}/decision"
        statuses: list[int] = []

        async def decide(i: int) -> None:
            decision = "approve" if i % 2 else "deny"
            statuses.append((await http.post(path, json={"decision": decision})).status_code)

        async with anyio.create_task_group() as tasks:
            for i in range(20):
                tasks.start_soon(decide, i)
        final = (await http.get(f"/v1/approvals/{created['id']}")).json()
    assert sorted(statuses) == [200] + [409] * 19
    assert final["version"] == 2


async def test_cancel_then_cancel_again_is_a_conflict(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        created = await create_approval(http)
        first = await http.post(f"/v1/approvals/{created['id']}/cancel", json={"comment": "oops"})
        second = await http.post(f"/v1/approvals/{created['id']}/cancel")
    assert first.status_code == 200
    assert (first.json()["status"], first.json()["comment"]) == ("cancelled", "oops")
    assert_error(second, 409, "approval_not_pending")


async def test_decide_and_cancel_unknown_approval_are_404(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        decide = await http.post("/v1/approvals/apr_nope/decision", json={"decision": "approve"})
        cancel = await http.post("/v1/approvals/apr_nope/cancel")
    assert_error(decide, 404, "not_found")
    assert_error(cancel, 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "body", "scope"),
    [
        ("POST", "/v1/approvals", {"action": "a"}, "approvals:write"),
        ("GET", "/v1/approvals", None, "approvals:read"),
        ("GET", "/v1/approvals/{id}", None, "approvals:read"),
        ("GET", "/v1/approvals/{id}/events", None, "approvals:read"),
        ("POST", "/v1/approvals/{id}/decision", {"decision": "approve"}, "approvals:decide"),
        ("POST", "/v1/approvals/{id}/cancel", None, "approvals:write"),
    ],
)
async def test_each_route_needs_its_scope(tenant, method, path, body, scope) -> None:
    async with client(tenant.base_url, tenant.admin_key) as admin:
        created = await create_approval(admin)
        others = [
            s for s in ("approvals:read", "approvals:write", "approvals:decide") if s != scope
        ]
        weak = await mint_key(admin, *others)
        strong = await mint_key(admin, scope)
    url = path.format(id=created["id"])
    async with client(tenant.base_url, weak) as http:
        denied = await http.request(method, url, json=body)
    async with client(tenant.base_url, strong) as http:
        if path.endswith("/events"):
            async with http.stream(method, url) as allowed:
                assert allowed.status_code == 200
        else:
            allowed = await http.request(method, url, json=body)
            assert allowed.status_code in (200, 201), allowed.text
    error = assert_error(denied, 403, "insufficient_scope")
    assert error["details"]["required_scope"] == scope
    assert scope in error["message"]


async def test_another_tenants_approval_is_404_everywhere(tenant, other_tenant) -> None:
    async with client(other_tenant.base_url, other_tenant.admin_key) as theirs:
        foreign = await create_approval(theirs)
    fid = foreign["id"]
    async with client(tenant.base_url, tenant.admin_key) as http:
        await create_approval(http)
        responses = [
            await http.get(f"/v1/approvals/{fid}"),
            await http.get(f"/v1/approvals/{fid}?wait=1"),
            await http.get(f"/v1/approvals/{fid}/events"),
            await http.post(f"/v1/approvals/{fid}/decision", json={"decision": "approve"}),
            await http.post(f"/v1/approvals/{fid}/cancel"),
        ]
        listed = (await http.get(f"/v1/approvals?id={fid}")).json()["data"]
        everything = (await http.get("/v1/approvals")).json()["data"]
    for response in responses:
        assert_error(response, 404, "not_found")
    assert listed == []
    assert fid not in {item["id"] for item in everything}


async def test_long_poll_answers_when_a_decision_lands(broker, tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        created = await create_approval(http)
        url = f"/v1/approvals/{created['id']}?wait=10&after_version=1"
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tasks:
                result: dict[str, httpx.Response] = {}

                async def poll() -> None:
                    result["poll"] = await http.get(url)

                tasks.start_soon(poll)
                # Decide only once the long-poll is being held: a hub waiter exists then.
                await until_streams_open(broker, tenant.admin_key, 1)
                await http.post(
                    f"/v1/approvals/{created['id']}/decision", json={"decision": "approve"}
                )
    assert result["poll"].status_code == 200
    assert (result["poll"].json()["status"], result["poll"].json()["version"]) == ("approved", 2)


async def test_long_poll_times_out_with_the_unchanged_approval(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        created = await create_approval(http)
        started = anyio.current_time()
        response = await http.get(f"/v1/approvals/{created['id']}?wait=0.3&after_version=1")
        elapsed = anyio.current_time() - started
    assert response.status_code == 200
    assert response.json() == created
    assert 0.25 <= elapsed < 3


async def test_long_poll_answers_at_once_when_already_past_the_version(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        created = await create_approval(http)
        with anyio.fail_after(2):
            response = await http.get(f"/v1/approvals/{created['id']}?wait=20&after_version=0")
    assert response.json()["version"] == 1


async def test_long_poll_rejects_a_bad_wait(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        created = await create_approval(http)
        response = await http.get(f"/v1/approvals/{created['id']}?wait=soon")
    assert assert_error(response, 400, "invalid_request")["details"]["parameter"] == "wait"


async def test_stream_sends_the_snapshot_then_the_change_then_closes(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        created = await create_approval(http)
        with anyio.fail_after(5):
            async with sse(http, f"/v1/approvals/{created['id']}/events") as (response, stream):
                assert response.headers["content-type"].startswith("text/event-stream")
                assert response.headers["cache-control"] == "no-cache"
                assert response.headers["x-accel-buffering"] == "no"
                snapshot = await next_event(stream)
                await http.post(
                    f"/v1/approvals/{created['id']}/decision", json={"decision": "approve"}
                )
                change = await next_event(stream)
                rest = [item async for item in stream if item.comment is None]
    assert (snapshot.event, snapshot.id, snapshot.retry) == ("approval.snapshot", "1", 3000)
    assert json.loads(snapshot.data or "")["status"] == "pending"
    assert (change.event, change.id) == ("approval.approved", "2")
    assert json.loads(change.data or "")["status"] == "approved"
    assert rest == []  # closed after the terminal state


async def test_stream_of_a_decided_approval_is_the_snapshot_alone(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        created = await create_approval(http)
        await http.post(f"/v1/approvals/{created['id']}/cancel")
        with anyio.fail_after(5):
            async with sse(http, f"/v1/approvals/{created['id']}/events") as (_, stream):
                received = [item async for item in stream if item.comment is None]
    assert [(item.event, item.id) for item in received] == [("approval.snapshot", "2")]


async def test_stream_sends_heartbeats_while_idle(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        created = await create_approval(http)
        with anyio.fail_after(5):
            async with sse(http, f"/v1/approvals/{created['id']}/events") as (_, stream):
                await next_event(stream)
                heartbeat = await anext(stream)
    assert heartbeat.comment == "ping"
