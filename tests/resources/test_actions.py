"""``client.actions`` (one at a time) against the real broker: policy decides, people approve,
the broker runs; reads, lists, streams, waits and evidence."""

from __future__ import annotations

import anyio
import pytest

from _actions import REFUND_CONFIG, echo_connection
from _sdk import client_with, deciding
from signoff import (
    ActionRun,
    ActionTimeout,
    AsyncSignoff,
    NotFoundError,
    PermissionDeniedError,
    RunStatus,
    UnprocessableEntityError,
    evidence,
)

pytestmark = pytest.mark.anyio


async def test_an_allowed_action_runs_before_the_call_returns(client: AsyncSignoff) -> None:
    echo = await echo_connection(client)
    run = await client.actions.execute(
        connection_id=echo.id, action_type="echo", input={"a": 1}, metadata={"team": "ops"}
    )
    assert run.id.startswith("run_")
    assert run.status is RunStatus.SUCCEEDED
    assert (run.outcome, run.approval_id) == ("allow", None)
    assert run.result == {"a": 1}
    assert run.metadata == {"team": "ops"}
    assert run.is_terminal


async def test_a_denied_action_never_runs(client: AsyncSignoff) -> None:
    echo = await echo_connection(client, allow=False)
    rule = await client.policies.create(action="echo.echo", effect="deny")
    run = await client.actions.execute(
        connection_id=echo.id, action_type="echo", input={}, wait=True, timeout=5
    )
    assert run.status is RunStatus.DENIED
    assert (run.outcome, run.policy_id, run.result) == ("deny", rule.id, None)


@pytest.mark.parametrize(
    ("decision", "status"), [("approve", RunStatus.SUCCEEDED), ("deny", RunStatus.DENIED)]
)
async def test_execute_with_wait_waits_through_the_approval(
    client: AsyncSignoff, decision: str, status: RunStatus
) -> None:
    echo = await echo_connection(client, allow=False)
    async with await client_with(client, "approvals:read", "approvals:decide") as approver:
        with anyio.fail_after(15):
            async with deciding(approver, decision) as decided:  # type: ignore[arg-type]
                run = await client.actions.execute(
                    connection_id=echo.id, action_type="echo", input={"x": 1}, wait=True
                )
    assert run.status is status
    assert run.outcome == "require_approval"
    assert decided == [run.approval_id]
    assert run.result == ({"x": 1} if status is RunStatus.SUCCEEDED else None)


async def test_running_out_of_time_raises_with_the_run_as_last_seen(client: AsyncSignoff) -> None:
    echo = await echo_connection(client, allow=False)
    with anyio.fail_after(10), pytest.raises(ActionTimeout) as caught:
        await client.actions.execute(
            connection_id=echo.id, action_type="echo", input={}, wait=True, timeout=0.3
        )
    run = caught.value.run
    assert run.status is RunStatus.AWAITING_APPROVAL
    assert run.id in str(caught.value)
    await client.approvals.approve(run.approval_id or "")
    with anyio.fail_after(10):
        assert (await client.actions.wait(run.id, timeout=10)).status is RunStatus.SUCCEEDED


async def test_without_wait_the_run_comes_back_awaiting_approval(client: AsyncSignoff) -> None:
    echo = await echo_connection(client, allow=False)
    run = await client.actions.execute(connection_id=echo.id, action_type="echo", input={})
    assert run.status is RunStatus.AWAITING_APPROVAL
    approval = await client.approvals.get(run.approval_id or "")
    assert approval.action == "echo.echo"
    assert approval.arguments == {}


async def test_get_list_and_filters(client: AsyncSignoff) -> None:
    echo = await echo_connection(client)
    other = await client.connections.create(name="other", connector="echo")
    first = await client.actions.execute(connection_id=echo.id, action_type="echo", input={})
    second = await client.actions.execute(connection_id=other.id, action_type="echo", input={})
    held = await client.policies.create(action="echo.*", effect="require_approval", priority=5)
    pending = await client.actions.execute(connection_id=echo.id, action_type="echo", input={})
    assert await client.actions.get(first.id) == first
    everything = await client.actions.list(limit=1).collect()
    assert [r.id for r in everything] == [pending.id, second.id, first.id]  # newest first
    by_connection = await client.actions.list(connection_id=other.id).collect()
    assert [r.id for r in by_connection] == [second.id]
    by_status = await client.actions.list(status=["awaiting_approval"]).collect()
    assert [r.id for r in by_status] == [pending.id]
    by_ids = await client.actions.list(ids=[first.id, pending.id], action_type="echo").collect()
    assert {r.id for r in by_ids} == {first.id, pending.id}
    assert held.id == pending.policy_id
    with pytest.raises(NotFoundError):
        await client.actions.get("run_unknown")
    with pytest.raises(ValueError, match="at most 100"):
        client.actions.list(ids=[f"run_{n}" for n in range(101)])


async def test_get_long_polls_until_the_run_changes(client: AsyncSignoff) -> None:
    echo = await echo_connection(client, allow=False)
    run = await client.actions.execute(connection_id=echo.id, action_type="echo", input={})
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            seen: list[ActionRun] = []

            async def poll() -> None:
                seen.append(await client.actions.get(run.id, wait=8, after_version=run.version))

            tg.start_soon(poll)
            await client.approvals.approve(run.approval_id or "")
    assert seen[0].version > run.version
    with pytest.raises(ValueError, match="wait"):
        await client.actions.get(run.id, wait=60)


async def test_stream_follows_a_run_until_it_finishes(client: AsyncSignoff) -> None:
    echo = await echo_connection(client, allow=False)
    run = await client.actions.execute(connection_id=echo.id, action_type="echo", input={})
    states: list[ActionRun] = []
    with anyio.fail_after(10):
        async with client.actions.stream(run.id) as updates:
            async for update in updates:
                states.append(update)
                if len(states) == 1:
                    await client.approvals.approve(run.approval_id or "")
    assert states[0].status is RunStatus.AWAITING_APPROVAL
    assert states[-1].status is RunStatus.SUCCEEDED
    versions = [s.version for s in states]
    assert versions == sorted(set(versions))


async def test_a_retry_with_the_same_key_runs_the_action_once(client: AsyncSignoff) -> None:
    echo = await echo_connection(client)
    first = await client.actions.execute(
        connection_id=echo.id, action_type="echo", input={"n": 1}, idempotency_key="pay-once"
    )
    again = await client.actions.execute(
        connection_id=echo.id, action_type="echo", input={"n": 1}, idempotency_key="pay-once"
    )
    assert again == first
    assert len(await client.actions.list().collect()) == 1


async def test_the_broker_refuses_unknown_connections_and_bad_input(client: AsyncSignoff) -> None:
    billing = await client.connections.create(name="b", connector="http", config=REFUND_CONFIG)
    with pytest.raises(NotFoundError):
        await client.actions.execute(connection_id="con_unknown", action_type="echo", input={})
    with pytest.raises(UnprocessableEntityError) as caught:
        await client.actions.execute(
            connection_id=billing.id, action_type="refund", input={"amount": "lots"}
        )
    assert "amount" in str(caught.value)
    with pytest.raises(ValueError, match="timeout"):
        await client.actions.execute(
            connection_id=billing.id, action_type="refund", input={}, timeout=0
        )


async def test_evidence_of_a_run_verifies_offline(client: AsyncSignoff) -> None:
    echo = await echo_connection(client)
    run = await client.actions.execute(connection_id=echo.id, action_type="echo", input={"v": 2})
    pack = await client.actions.evidence(run.id)
    assert pack.run == run
    assert pack.decision.effect == "allow"
    assert evidence.verify(pack)


async def test_an_agent_key_runs_actions_but_reads_no_evidence(client: AsyncSignoff) -> None:
    echo = await echo_connection(client)
    async with await client_with(client, "actions:execute", "actions:read") as agent:
        run = await agent.actions.execute(connection_id=echo.id, action_type="echo", input={})
        assert run.status is RunStatus.SUCCEEDED
        with pytest.raises(PermissionDeniedError):
            await agent.actions.evidence(run.id)


async def test_many_run_waits_share_one_event_stream(client: AsyncSignoff) -> None:
    echo = await echo_connection(client, allow=False)
    items = [
        {"connection_id": echo.id, "action_type": "echo", "input": {"n": n}} for n in range(60)
    ]
    runs = [r for r in await client.actions.execute_many(items) if isinstance(r, ActionRun)]
    finished: dict[str, ActionRun] = {}

    async def wait(run_id: str) -> None:
        finished[run_id] = await client.actions.wait(run_id, timeout=20)

    with anyio.fail_after(20):
        async with deciding(client, "approve"), anyio.create_task_group() as tg:
            for run in runs:
                tg.start_soon(wait, run.id)
    assert len(finished) == 60
    assert all(run.status is RunStatus.SUCCEEDED for run in finished.values())
    hub = client._wait_hub
    assert hub.connections_opened == 1
    assert hub._readers["action."].requests <= 10  # first reads batched, not one per wait
