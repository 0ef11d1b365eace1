"""``/v1/events``: the tenant's log as pages, long-poll and SSE; cursors, filters, scopes."""

from __future__ import annotations

import json
from datetime import timedelta

import anyio
import httpx
import pytest

from signoff.server.ids import utcnow

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


async def _head(http: httpx.AsyncClient) -> int:
    return int((await http.get("/v1/events?after=now")).json()["next_cursor"])


async def test_every_change_appends_one_event_in_seq_order(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        approval = await create_approval(http)
        await http.post(f"/v1/approvals/{approval['id']}/decision", json={"decision": "deny"})
        policy = (await http.post("/v1/policies", json={"action": "x", "effect": "deny"})).json()
        await http.delete(f"/v1/policies/{policy['id']}")
        key = await mint_key(http, "approvals:read")
        await http.delete(f"/v1/api-keys/key_{key.split('_')[2]}")
        page = (await http.get("/v1/events")).json()
    types = [event["type"] for event in page["data"]]
    assert types == [
        "api_key.created",  # the tenant's first admin key
        "approval.created",
        "approval.denied",
        "policy.created",
        "policy.deleted",
        "api_key.created",
        "api_key.revoked",
    ]
    assert [event["seq"] for event in page["data"]] == list(range(1, 8))
    assert page["next_cursor"] == "7"
    denied = page["data"][2]
    assert denied["subject_id"] == approval["id"]
    assert denied["data"]["status"] == "denied"
    assert denied["actor"].startswith("key_")
    assert all(event["id"].startswith("evt_") for event in page["data"])


async def test_pages_continue_from_next_cursor_and_empty_means_caught_up(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        for _ in range(4):
            await create_approval(http)
        first = (await http.get("/v1/events?after=0&limit=3")).json()
        second = (await http.get(f"/v1/events?after={first['next_cursor']}&limit=3")).json()
        third = (await http.get(f"/v1/events?after={second['next_cursor']}&limit=3")).json()
    assert [e["seq"] for e in first["data"]] == [1, 2, 3]
    assert [e["seq"] for e in second["data"]] == [4, 5]
    assert third == {"data": [], "next_cursor": "5"}


async def test_types_filter_takes_globs(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        approval = await create_approval(http)
        await http.post(f"/v1/approvals/{approval['id']}/cancel")
        cancelled = (await http.get("/v1/events?types=approval.cancelled")).json()["data"]
        approvals = (await http.get("/v1/events?types=approval.*")).json()["data"]
        keys = (await http.get("/v1/events?types=api_key.*,policy.*")).json()["data"]
    assert [e["type"] for e in cancelled] == ["approval.cancelled"]
    assert [e["type"] for e in approvals] == ["approval.created", "approval.cancelled"]
    assert [e["type"] for e in keys] == ["api_key.created"]


async def test_a_reader_key_sees_only_the_types_its_scopes_allow(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as admin:
        reader = await mint_key(admin, "approvals:read")
        actions_reader = await mint_key(admin, "actions:read")
        writer = await mint_key(admin, "approvals:write")
        await create_approval(admin)
    async with client(tenant.base_url, reader) as http:
        seen = (await http.get("/v1/events")).json()
    async with client(tenant.base_url, actions_reader) as http:
        nothing = (await http.get("/v1/events")).json()
    async with client(tenant.base_url, writer) as http:
        forbidden = await http.get("/v1/events")
    assert [e["type"] for e in seen["data"]] == ["approval.created"]
    assert seen["next_cursor"] == "5"  # the head: the hidden key events are passed over
    assert nothing["data"] == []
    error = assert_error(forbidden, 403, "insufficient_scope")
    assert set(error["details"]["any_of"]) == {"approvals:read", "actions:read", "admin"}


async def test_another_tenants_events_are_never_listed_or_streamed(tenant, other_tenant) -> None:
    async with client(other_tenant.base_url, other_tenant.admin_key) as theirs:
        foreign = await create_approval(theirs)
    async with (
        client(tenant.base_url, tenant.admin_key) as http,
        client(other_tenant.base_url, other_tenant.admin_key) as theirs,
    ):
        mine = await create_approval(http)
        listed = (await http.get("/v1/events")).json()["data"]
        with anyio.fail_after(5):
            async with sse(http, "/v1/events/stream?after=0") as (_, stream):
                await next_event(stream)  # ready
                streamed = [await next_event(stream), await next_event(stream)]
                await create_approval(theirs)  # must not show up
                last = await create_approval(http)
                live = await next_event(stream)
    subjects = {e["subject_id"] for e in listed}
    subjects |= {json.loads(f.data or "")["subject_id"] for f in streamed}
    assert foreign["id"] not in subjects
    assert mine["id"] in subjects
    assert json.loads(live.data or "")["subject_id"] == last["id"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("after=-1", "after"),
        ("after=soon", "after"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("types=a%20b", "types"),
        ("wait=x", "wait"),
    ],
)
async def test_bad_query_parameters_are_400(tenant, query: str, parameter: str) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        response = await http.get(f"/v1/events?{query}")
    assert assert_error(response, 400, "invalid_request")["details"]["parameter"] == parameter


async def test_a_cursor_past_the_head_is_410(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        listed = await http.get("/v1/events?after=99")
        streamed = await http.get("/v1/events/stream?after=99")
    for response in (listed, streamed):
        error = assert_error(response, 410, "cursor_expired")
        assert error["details"]["head_seq"] == 1


async def test_a_cursor_older_than_the_replay_window_is_410(start_broker) -> None:
    from conftest import new_tenant

    broker = start_broker(replay_window=3600.0)
    info = new_tenant(broker)
    # Age the log: make the first event look two hours old.
    old = (utcnow() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    import sqlite3

    with sqlite3.connect(broker.db_path) as db:
        db.execute(
            "UPDATE events SET created_at = ? WHERE tenant_id = ? AND seq = 1", (old, info.id)
        )
    async with client(info.base_url, info.admin_key) as http:
        await create_approval(http)
        stale = await http.get("/v1/events/stream?after=0")
        fresh = await http.get("/v1/events?after=1")
    error = assert_error(stale, 410, "cursor_expired")
    assert error["details"] == {"oldest_seq": 2, "head_seq": 2}
    assert [e["seq"] for e in fresh.json()["data"]] == [2]


async def test_long_poll_answers_when_an_event_arrives(broker, tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        head = await _head(http)
        result: dict[str, httpx.Response] = {}
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tasks:

                async def poll() -> None:
                    result["poll"] = await http.get(f"/v1/events?after={head}&wait=10")

                tasks.start_soon(poll)
                await until_streams_open(broker, tenant.admin_key, 1)
                approval = await create_approval(http)
    page = result["poll"].json()
    assert [e["subject_id"] for e in page["data"]] == [approval["id"]]
    assert page["next_cursor"] == str(head + 1)


async def test_long_poll_times_out_with_an_empty_page_at_the_head(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        page = (await http.get("/v1/events?after=now&wait=0.2")).json()
    assert page == {"data": [], "next_cursor": "1"}


async def test_stream_sends_ready_then_backlog_then_live(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        backlog = [await create_approval(http) for _ in range(2)]
        with anyio.fail_after(5):
            async with sse(http, "/v1/events/stream?after=1") as (response, stream):
                assert response.headers["content-type"].startswith("text/event-stream")
                ready = await next_event(stream)
                replayed = [await next_event(stream), await next_event(stream)]
                live_approval = await create_approval(http)
                live = await next_event(stream)
    assert (ready.event, ready.id, ready.retry) == ("ready", "1", 3000)
    assert json.loads(ready.data or "") == {"seq": 1}
    assert [(f.id, f.event) for f in replayed] == [
        ("2", "approval.created"),
        ("3", "approval.created"),
    ]
    assert [json.loads(f.data or "")["subject_id"] for f in replayed] == [a["id"] for a in backlog]
    assert (live.id, json.loads(live.data or "")["subject_id"]) == ("4", live_approval["id"])


async def test_stream_without_a_cursor_starts_at_the_head(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        await create_approval(http)
        with anyio.fail_after(5):
            async with sse(http, "/v1/events/stream") as (_, stream):
                ready = await next_event(stream)
                approval = await create_approval(http)
                live = await next_event(stream)
    assert ready.id == "2"
    assert (live.id, json.loads(live.data or "")["subject_id"]) == ("3", approval["id"])


async def test_resuming_with_last_event_id_loses_and_repeats_nothing(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        await create_approval(http)
        seen: list[str] = []
        with anyio.fail_after(5):
            async with sse(http, "/v1/events/stream?after=0") as (_, stream):
                await next_event(stream)
                for _ in range(2):
                    seen.append((await next_event(stream)).id or "")
            # Changes while disconnected must arrive after the resume, exactly once.
            for _ in range(3):
                await create_approval(http)
            headers = {"Last-Event-ID": seen[-1]}
            async with sse(http, "/v1/events/stream?after=0", headers=headers) as (_, stream):
                ready = await next_event(stream)
                for _ in range(3):
                    seen.append((await next_event(stream)).id or "")
    assert ready.id == "2"  # Last-Event-ID won over after=0
    assert seen == ["1", "2", "3", "4", "5"]


async def test_stream_types_filter(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        with anyio.fail_after(5):
            async with sse(http, "/v1/events/stream?types=approval.cancelled") as (_, stream):
                await next_event(stream)
                approval = await create_approval(http)
                await http.post(f"/v1/approvals/{approval['id']}/cancel")
                only = await next_event(stream)
    assert only.event == "approval.cancelled"


async def test_stream_sends_heartbeats_while_idle(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        with anyio.fail_after(5):
            async with sse(http, "/v1/events/stream") as (_, stream):
                await next_event(stream)
                heartbeat = await anext(stream)
    assert heartbeat.comment == "ping"


async def test_stream_ends_at_its_lifetime(start_broker) -> None:
    from conftest import new_tenant

    info = new_tenant(start_broker(event_stream_lifetime=0.5))
    async with client(info.base_url, info.admin_key) as http:
        with anyio.fail_after(5):
            async with sse(http, "/v1/events/stream") as (_, stream):
                received = [item async for item in stream]
    assert received[0].event == "ready"
    assert all(item.comment == "ping" for item in received[1:])
