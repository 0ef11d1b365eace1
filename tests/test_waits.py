"""``approvals.wait()``: multiplexed on one event stream, resumed after drops and restarts."""

from __future__ import annotations

import functools
from collections.abc import Callable

import anyio
import pytest

from _proxy import TcpProxy
from conftest import new_tenant
from signoff import (
    Approval,
    ApprovalStatus,
    ApprovalTimeout,
    AsyncSignoff,
    NotFoundError,
    SignoffError,
)
from signoff._waits import WaitHub
from signoff.server import BrokerThread

pytestmark = pytest.mark.anyio


async def until_watched(hub: WaitHub, approval_id: str) -> None:
    """Return once a wait on ``approval_id`` is live and has read the current state."""
    while hub._cursor is None or not any(
        waiter.latest is not None for waiter in hub._waiters.get(approval_id, ())
    ):
        await anyio.sleep(0.01)  # polls test-side state; the caller bounds it with a deadline


async def test_wait_returns_the_decision(client: AsyncSignoff) -> None:
    created = await client.approvals.create(action="db.delete")
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            result: list[Approval] = []

            async def wait() -> None:
                result.append(await client.approvals.wait(created.id, timeout=10))

            tg.start_soon(wait)
            await client.approvals.approve(created.id, comment="ok")
    assert result[0].status is ApprovalStatus.APPROVED
    assert result[0].comment == "ok"


async def test_a_decision_made_before_the_wait_is_seen_at_once(client: AsyncSignoff) -> None:
    created = await client.approvals.create(action="db.delete")
    await client.approvals.deny(created.id)
    with anyio.fail_after(5):
        waited = await client.approvals.wait(created.id, timeout=5)
    assert waited.status is ApprovalStatus.DENIED  # returned, not raised


async def test_wait_returns_expired_approvals(client: AsyncSignoff) -> None:
    created = await client.approvals.create(action="db.delete", expires_in=1)
    with anyio.fail_after(10):
        waited = await client.approvals.wait(created.id)
    assert waited.status is ApprovalStatus.EXPIRED


async def test_running_out_of_time_raises_with_the_last_state(client: AsyncSignoff) -> None:
    created = await client.approvals.create(action="db.delete")
    with anyio.fail_after(5), pytest.raises(ApprovalTimeout) as caught:
        await client.approvals.wait(created.id, timeout=0.3)
    assert caught.value.approval.id == created.id
    assert caught.value.approval.status is ApprovalStatus.PENDING


async def test_waiting_on_an_unknown_approval_is_not_found(client: AsyncSignoff) -> None:
    with anyio.fail_after(5), pytest.raises(NotFoundError):
        await client.approvals.wait("apr_unknown", timeout=5)


async def test_many_waits_share_one_connection_and_few_reads(client: AsyncSignoff) -> None:
    created = [await client.approvals.create(action="bulk.op") for _ in range(200)]
    results: dict[str, Approval] = {}

    async def wait(approval_id: str) -> None:
        results[approval_id] = await client.approvals.wait(approval_id, timeout=20)

    hub = client._wait_hub
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            for approval in created:
                tg.start_soon(wait, approval.id)
            while hub._count < len(created) or hub._cursor is None:
                await anyio.sleep(0.01)  # polling test-side state only; no timing assumption
            for approval in created:
                await client.approvals.approve(approval.id)
    assert all(a.status is ApprovalStatus.APPROVED for a in results.values())
    assert len(results) == 200
    assert hub.connections_opened == 1
    # The initial reads were batched: far fewer requests than waits.
    assert hub._readers["approval."].requests <= 20


async def test_a_dropped_stream_is_resumed_and_the_decision_still_arrives(
    broker: BrokerThread,
) -> None:
    tenant = new_tenant(broker)
    with TcpProxy(broker.port) as proxy:
        async with AsyncSignoff(tenant.admin_key, proxy.base_url) as client:
            created = await client.approvals.create(action="db.delete")
            with anyio.fail_after(20):
                async with anyio.create_task_group() as tg:
                    result: list[Approval] = []

                    async def wait() -> None:
                        result.append(await client.approvals.wait(created.id, timeout=20))

                    tg.start_soon(wait)
                    hub = client._wait_hub
                    await until_watched(hub, created.id)
                    proxy.pause()  # the reconnect waits until the decision is made
                    proxy.cut()
                    async with AsyncSignoff(tenant.admin_key, broker.base_url) as direct:
                        await direct.approvals.approve(created.id)
                    proxy.resume()
            assert result[0].status is ApprovalStatus.APPROVED
            assert hub.connections_opened >= 2


async def test_an_expired_cursor_rereads_what_is_waited(
    start_broker: Callable[..., BrokerThread],
) -> None:
    broker = start_broker(replay_window=0.2)
    tenant = new_tenant(broker)
    with TcpProxy(broker.port) as proxy:
        async with AsyncSignoff(tenant.admin_key, proxy.base_url) as client:
            created = await client.approvals.create(action="db.delete")
            with anyio.fail_after(20):
                async with anyio.create_task_group() as tg:
                    result: list[Approval] = []

                    async def wait() -> None:
                        result.append(await client.approvals.wait(created.id, timeout=20))

                    tg.start_soon(wait)
                    hub = client._wait_hub
                    await until_watched(hub, created.id)
                    proxy.pause()
                    proxy.cut()
                    async with AsyncSignoff(tenant.admin_key, broker.base_url) as direct:
                        await direct.approvals.approve(created.id)
                    # Let the decision's event age past the replay window: the reconnect's
                    # Last-Event-ID is then answered with 410.
                    await anyio.sleep(0.4)
                    proxy.resume()
            assert result[0].status is ApprovalStatus.APPROVED


async def test_where_streams_are_refused_waits_long_poll(broker: BrokerThread) -> None:
    tenant = new_tenant(broker)
    with TcpProxy(broker.port, refuse_paths=["/v1/events/stream"]) as proxy:
        async with AsyncSignoff(tenant.admin_key, proxy.base_url) as client:
            created = [await client.approvals.create(action="db.delete") for _ in range(3)]
            results: list[Approval] = []

            async def wait(approval_id: str) -> None:
                results.append(await client.approvals.wait(approval_id, timeout=20))

            with anyio.fail_after(20):
                async with anyio.create_task_group() as tg:
                    for approval in created:
                        tg.start_soon(wait, approval.id)
                    hub = client._wait_hub
                    while hub._cursor is None or hub._count < 3:
                        await anyio.sleep(0.01)
                    for approval in created:
                        await client.approvals.approve(approval.id)
            assert [a.status for a in results] == [ApprovalStatus.APPROVED] * 3
            assert hub.mode == "poll"
            assert proxy.refused >= 1


async def test_a_wait_survives_a_broker_restart(
    start_broker: Callable[..., BrokerThread], tmp_path: object
) -> None:
    db = f"{tmp_path}/restart.db"
    first = start_broker(db_path=db)
    port = first.port
    tenant = new_tenant(first)
    async with AsyncSignoff(tenant.admin_key, first.base_url) as client:
        created = await client.approvals.create(action="db.delete")
        result: list[Approval] = []

        async def wait() -> None:
            result.append(await client.approvals.wait(created.id, timeout=30))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                await until_watched(client._wait_hub, created.id)
                await anyio.to_thread.run_sync(first.stop)
                second = await anyio.to_thread.run_sync(lambda: start_broker(db_path=db, port=port))
                async with AsyncSignoff(tenant.admin_key, second.base_url) as direct:
                    await direct.approvals.approve(created.id)
    assert result[0].status is ApprovalStatus.APPROVED


async def test_closing_the_client_ends_its_waits(tenant: object) -> None:
    client = AsyncSignoff(tenant.admin_key, tenant.base_url)  # type: ignore[attr-defined]
    created = await client.approvals.create(action="db.delete")
    errors: list[BaseException] = []

    async def wait() -> None:
        try:
            await client.approvals.wait(created.id, timeout=20)
        except SignoffError as exc:
            errors.append(exc)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            hub = client._wait_hub
            while hub._count == 0 or hub._cursor is None:
                await anyio.sleep(0.01)
            await client.aclose()
    assert len(errors) == 1
    assert "closed" in str(errors[0])


async def test_waits_that_start_while_the_reader_stops_still_see_their_decision(
    client: AsyncSignoff,
) -> None:
    # With no linger the reader stops the moment it is idle, so each wait below may arrive
    # while the previous reader is still shutting down: it must not count on that reader.
    hub = client._wait_hub
    hub._linger = 0.0
    for _ in range(15):
        created = await client.approvals.create(action="db.delete")
        result: list[Approval] = []

        async def wait(approval_id: str = created.id, into: list[Approval] = result) -> None:
            into.append(await client.approvals.wait(approval_id, timeout=10))

        with anyio.fail_after(15):
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                await until_watched(hub, created.id)
                await client.approvals.approve(created.id)
        assert result[0].status is ApprovalStatus.APPROVED


async def test_a_lost_position_is_re_read_not_replayed(
    start_broker: Callable[..., BrokerThread],
) -> None:
    broker = start_broker(replay_window=0.2)
    tenant = new_tenant(broker)
    with TcpProxy(broker.port) as proxy:
        async with AsyncSignoff(tenant.admin_key, proxy.base_url) as client:
            created = await client.approvals.create(action="db.delete")
            hub = client._wait_hub
            with anyio.fail_after(20):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(functools.partial(client.approvals.wait, created.id, timeout=20))
                    await until_watched(hub, created.id)
                    proxy.pause()
                    proxy.cut()
                    async with AsyncSignoff(tenant.admin_key, broker.base_url) as direct:
                        await direct.approvals.approve(created.id)
                    await anyio.sleep(0.4)  # the decision's event ages past the window
                    proxy.resume()
            assert hub.resyncs == 1  # the 410 path ran, not an ordinary replay
