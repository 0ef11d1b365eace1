"""Pending approvals expire on time, also across a broker restart."""

from __future__ import annotations

import json
import time
from datetime import datetime

import anyio
import pytest

from signoff.server.ids import utcnow

from .helpers import HTTPX_STREAM_GC, client, create_approval, next_event, sse

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings(HTTPX_STREAM_GC)]


async def test_pending_approval_expires_on_time(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        with anyio.fail_after(15):
            async with sse(http, "/v1/events/stream?types=approval.expired") as (_, stream):
                await next_event(stream)  # ready: subscribed before the approval exists
                approval = await create_approval(http, expires_in=1)
                expired = await next_event(stream)
        current = (await http.get(f"/v1/approvals/{approval['id']}")).json()
    event = json.loads(expired.data or "")
    expires_at = datetime.fromisoformat(approval["expires_at"])
    late = (datetime.fromisoformat(event["created_at"]) - expires_at).total_seconds()
    assert event["subject_id"] == approval["id"]
    assert (event["actor"], event["data"]["status"]) == ("system", "expired")
    assert 0 <= late < 3  # on time: the sweeper sleeps until expires_at, not a poll interval
    assert (current["status"], current["version"], current["decided_by"]) == (
        "expired",
        2,
        "system",
    )


async def test_expiry_wakes_a_long_poll(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        approval = await create_approval(http, expires_in=1)
        with anyio.fail_after(5):
            response = await http.get(f"/v1/approvals/{approval['id']}?wait=10&after_version=1")
    assert response.json()["status"] == "expired"


async def test_an_approval_due_while_the_broker_was_down_expires_at_startup(
    start_broker, tmp_path
) -> None:
    from conftest import new_tenant

    db = tmp_path / "restart.db"
    first = start_broker(db_path=db)
    info = new_tenant(first)
    async with client(info.base_url, info.admin_key) as http:
        approval = await create_approval(http, expires_in=1)
    first.stop()
    # Let the expiry time pass while no broker runs (the point of the test, not a sync).
    remaining = (datetime.fromisoformat(approval["expires_at"]) - utcnow()).total_seconds()
    time.sleep(max(0.0, remaining) + 0.05)

    second = start_broker(db_path=db, port=first.port)
    async with client(second.base_url, info.admin_key) as http:
        # The events list is read before anything touches the approval, so the expiry
        # seen here was done by the startup sweep, not lazily by a read.
        events = (await http.get("/v1/events?types=approval.*")).json()["data"]
        current = (await http.get(f"/v1/approvals/{approval['id']}")).json()
    assert second.port == first.port
    assert [e["type"] for e in events] == ["approval.created", "approval.expired"]
    assert current["status"] == "expired"


async def test_data_survives_a_restart(start_broker, tmp_path) -> None:
    from conftest import new_tenant

    db = tmp_path / "survive.db"
    first = start_broker(db_path=db)
    info = new_tenant(first)
    async with client(info.base_url, info.admin_key) as http:
        approval = await create_approval(http)
        decided = (
            await http.post(
                f"/v1/approvals/{approval['id']}/decision", json={"decision": "approve"}
            )
        ).json()
        policy = (await http.post("/v1/policies", json={"action": "x.*", "effect": "deny"})).json()
    first.stop()
    second = start_broker(db_path=db)
    async with client(second.base_url, info.admin_key) as http:
        assert (await http.get(f"/v1/approvals/{approval['id']}")).json() == decided
        assert (await http.get("/v1/policies")).json()["data"] == [policy]
        assert (await http.get("/v1/events")).json()["next_cursor"] == "4"
        assert (await create_approval(http, action="x.y"))["status"] == "denied"
