"""``actions.execute_many`` and ``actions.as_completed`` against the real broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from _actions import REFUND_CONFIG, counted_client, echo, echo_connection
from _sdk import deciding
from signoff import (
    ActionResult,
    ActionRun,
    AsyncSignoff,
    NotFoundError,
    RequestValidationError,
    RunStatus,
    UnprocessableEntityError,
)

pytestmark = pytest.mark.anyio


async def test_a_thousand_echo_actions_all_succeed_in_order(client: AsyncSignoff) -> None:
    connection = await echo_connection(client)
    progress: list[int] = []
    with anyio.fail_after(30):
        results = await client.actions.execute_many(
            [echo(connection, n) for n in range(1000)],
            on_progress=lambda done, total: progress.append(done),
        )
    runs = [r for r in results if isinstance(r, ActionRun)]
    assert len(runs) == 1000
    assert [run.result for run in runs] == [{"n": n} for n in range(1000)]
    assert all(run.status is RunStatus.SUCCEEDED for run in runs)
    assert len({run.id for run in runs}) == 1000
    assert progress == list(range(1, 1001))


async def test_bad_items_carry_their_errors_and_the_good_ones_succeed(
    client: AsyncSignoff,
) -> None:
    connection = await echo_connection(client)
    billing = await client.connections.create(name="b", connector="http", config=REFUND_CONFIG)
    items: list[Any] = [echo(connection, n) for n in range(10)]
    items[2] = {"connection_id": "con_unknown", "action_type": "echo", "input": {}}
    items[5] = {"connection_id": billing.id, "action_type": "refund", "input": {"amount": "x"}}
    items[7] = {"connection_id": connection.id, "input": {}}  # no action_type
    for batch_size in (4, 1):
        results = await client.actions.execute_many(items, batch_size=batch_size)
        assert isinstance(results[2], NotFoundError)
        assert isinstance(results[5], UnprocessableEntityError)
        assert "amount" in str(results[5])
        assert isinstance(results[7], RequestValidationError)
        good = [results[n] for n in range(10) if n not in (2, 5, 7)]
        assert all(isinstance(r, ActionRun) and r.status is RunStatus.SUCCEEDED for r in good)


async def test_runs_that_need_a_person_come_back_awaiting_approval(client: AsyncSignoff) -> None:
    connection = await echo_connection(client, allow=False)
    await client.policies.create(action="echo.*", effect="deny", metadata={"risky": True})
    items = [echo(connection, 0), echo(connection, 1, metadata={"risky": True})]
    held, denied = await client.actions.execute_many(items)
    assert isinstance(held, ActionRun)
    assert isinstance(denied, ActionRun)
    assert held.status is RunStatus.AWAITING_APPROVAL
    assert denied.status is RunStatus.DENIED
    async with deciding(client, "approve"):
        with anyio.fail_after(10):
            finished = await client.actions.wait(held.id, timeout=10)
    assert finished.status is RunStatus.SUCCEEDED


async def test_concurrency_is_never_exceeded(client: AsyncSignoff) -> None:
    connection = await echo_connection(client)
    async with counted_client(client, max_concurrency=16) as (counted, transport):
        for count, batch_size in ((300, 10), (40, 1)):
            transport.max_in_flight = 0
            with anyio.fail_after(30):
                results = await counted.actions.execute_many(
                    [echo(connection, n) for n in range(count)],
                    concurrency=3,
                    batch_size=batch_size,
                )
            assert all(isinstance(r, ActionRun) for r in results)
            assert 1 <= transport.max_in_flight <= 3


async def test_the_clients_own_limit_caps_concurrency(client: AsyncSignoff) -> None:
    connection = await echo_connection(client)
    async with counted_client(client, max_concurrency=2) as (counted, transport):
        with anyio.fail_after(30):
            await counted.actions.execute_many(
                [echo(connection, n) for n in range(200)], concurrency=50, batch_size=5
            )
    assert transport.max_in_flight <= 2
    assert transport.requests == 40


async def test_fail_fast_raises_the_first_failure(client: AsyncSignoff) -> None:
    connection = await echo_connection(client)
    items = [echo(connection, n) for n in range(50)]
    items[30] = {"connection_id": "con_unknown", "action_type": "echo", "input": {}}
    with anyio.fail_after(30), pytest.raises(NotFoundError) as caught:
        await client.actions.execute_many(items, batch_size=10, concurrency=2, fail_fast=True)
    assert "item 30" in " ".join(caught.value.__notes__)


async def test_cancelling_the_caller_stops_promptly_and_leaves_nothing_running(
    client: AsyncSignoff,
) -> None:
    connection = await echo_connection(client)
    async with counted_client(client, max_concurrency=4) as (counted, transport):
        started = anyio.Event()

        def progress(done: int, total: int | None) -> None:
            started.set()

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:

                async def run() -> None:
                    await counted.actions.execute_many(
                        (echo(connection, n) for n in range(100_000)),
                        concurrency=4,
                        batch_size=1,
                        on_progress=progress,
                    )

                tg.start_soon(run)
                await started.wait()
                tg.cancel_scope.cancel()
        # The task group has ended, so every task the call started has ended too; and no
        # request was abandoned mid-flight.
        assert transport.in_flight == 0
        assert transport.requests < 1000


async def test_an_async_iterable_is_consumed_as_it_produces(client: AsyncSignoff) -> None:
    connection = await echo_connection(client)

    async def items() -> AsyncIterator[dict[str, Any]]:
        for n in range(120):
            await anyio.lowlevel.checkpoint()
            yield echo(connection, n)

    results = await client.actions.execute_many(items(), batch_size=50)
    assert [r.result for r in results if isinstance(r, ActionRun)] == [{"n": n} for n in range(120)]


async def test_as_completed_yields_each_result_with_its_index(client: AsyncSignoff) -> None:
    connection = await echo_connection(client)
    items = [echo(connection, n) for n in range(60)]
    items[13] = {"connection_id": "con_unknown", "action_type": "echo", "input": {}}
    landed: list[ActionResult] = []
    with anyio.fail_after(30):
        async with client.actions.as_completed(items, batch_size=7, concurrency=3) as results:
            async for result in results:
                landed.append(result)
    assert sorted(r.index for r in landed) == list(range(60))
    for result in landed:
        if result.index == 13:
            assert isinstance(result.error, NotFoundError)
        else:
            assert result.unwrap().result == {"n": result.index}


async def test_an_item_resubmitted_with_its_key_is_not_run_again(client: AsyncSignoff) -> None:
    connection = await echo_connection(client)
    async with client.actions.as_completed([echo(connection, 1)]) as results:
        (first,) = [result async for result in results]
    again = await client.actions.execute_many(
        [echo(connection, 1, idempotency_key=first.idempotency_key)]
    )
    assert again == [first.run]
    assert len(await client.actions.list().collect()) == 1
