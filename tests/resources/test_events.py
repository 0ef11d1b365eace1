"""``client.events`` against the real broker: pages of the log and its live stream."""

from __future__ import annotations

import anyio
import pytest

from _proxy import TcpProxy
from conftest import TenantInfo, new_tenant
from signoff import APIStatusError, AsyncSignoff, Event
from signoff.server import BrokerThread

pytestmark = pytest.mark.anyio


async def test_list_pages_the_log_in_seq_order(client: AsyncSignoff) -> None:
    created = [await client.approvals.create(action="log.me") for _ in range(5)]
    await client.approvals.approve(created[0].id)
    events = [e async for e in client.events.list(types="approval.*", limit=2)]
    assert [e.type for e in events] == ["approval.created"] * 5 + ["approval.approved"]
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert [e.subject_id for e in events[:5]] == [a.id for a in created]
    assert events[-1].data["status"] == "approved"


async def test_list_after_a_cursor_and_by_type(client: AsyncSignoff) -> None:
    first = await client.approvals.create(action="log.me")
    await client.approvals.deny(first.id)
    everything = await client.events.list().collect()
    later = await client.events.list(after=everything[-2].seq).collect()
    assert later == everything[-1:]
    denied = await client.events.list(types=["approval.denied"]).collect()
    assert [e.subject_id for e in denied] == [first.id]
    assert await client.events.list(after="now").collect() == []


async def test_stream_delivers_the_backlog_then_live_events(client: AsyncSignoff) -> None:
    before = await client.approvals.create(action="log.me")
    seen: list[Event] = []
    with anyio.fail_after(10):
        async with client.events.stream(types="approval.*", after=0) as events:
            async for event in events:
                seen.append(event)
                if len(seen) == 1:
                    await client.approvals.approve(before.id)
                if len(seen) == 2:
                    break
    assert [(e.type, e.subject_id) for e in seen] == [
        ("approval.created", before.id),
        ("approval.approved", before.id),
    ]


async def test_a_dropped_stream_resumes_without_losing_or_repeating_events(
    broker: BrokerThread,
) -> None:
    tenant = new_tenant(broker)
    with TcpProxy(broker.port) as proxy:
        async with (
            AsyncSignoff(tenant.admin_key, proxy.base_url) as client,
            AsyncSignoff(tenant.admin_key, broker.base_url) as direct,
        ):
            for _ in range(3):
                await direct.approvals.create(action="log.me")
            seqs: list[int] = []
            with anyio.fail_after(15):
                async with client.events.stream(types="approval.*", after=0) as events:
                    async for event in events:
                        seqs.append(event.seq)
                        if len(seqs) == 3:
                            proxy.cut()  # mid-stream, between two events
                            for _ in range(3):
                                await direct.approvals.create(action="log.me")
                        if len(seqs) == 6:
                            break
    assert len(seqs) == 6
    assert seqs == sorted(set(seqs))  # nothing repeated, in order
    assert seqs == list(range(seqs[0], seqs[0] + 6))  # nothing lost
    assert proxy.connections == 2  # the stream, then its resumption


async def test_a_cursor_from_the_future_is_gone(client: AsyncSignoff) -> None:
    async def drain() -> None:
        async with client.events.stream(after=10**9) as events:
            async for _ in events:
                pass

    with anyio.fail_after(5), pytest.raises(APIStatusError) as caught:
        await drain()
    assert caught.value.status_code == 410
    assert caught.value.type == "cursor_expired"


async def test_events_of_another_tenant_are_invisible(
    client: AsyncSignoff, other_tenant: TenantInfo
) -> None:
    await client.approvals.create(action="log.me")
    async with AsyncSignoff(other_tenant.admin_key, client.base_url) as other:
        assert [
            e for e in await other.events.list().collect() if e.type.startswith("approval")
        ] == []
