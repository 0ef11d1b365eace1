"""``client.approvals`` against the real broker on 127.0.0.1."""

from __future__ import annotations

import anyio
import pytest

from _sdk import client_with
from signoff import (
    Approval,
    ApprovalStatus,
    AsyncSignoff,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableEntityError,
)

pytestmark = pytest.mark.anyio


async def test_create_sends_every_field_and_returns_a_pending_approval(
    client: AsyncSignoff,
) -> None:
    approval = await client.approvals.create(
        action="payments.refund",
        summary="Refund $42 to ACME",
        reason="customer complaint #123",
        function_name="billing.refund",
        arguments={"amount": 42, "customer": "ACME"},
        context={"ticket": 123},
        metadata={"team": "billing", "amount": 42},
        expires_in=600,
        callback_url="https://example.test/hook",
        dedup_key="refund-acme-42",
    )
    assert approval.id.startswith("apr_")
    assert approval.status is ApprovalStatus.PENDING
    assert approval.version == 1
    assert approval.summary == "Refund $42 to ACME"
    assert approval.reason == "customer complaint #123"
    assert approval.function_name == "billing.refund"
    assert approval.arguments == {"amount": 42, "customer": "ACME"}
    assert approval.context == {"ticket": 123}
    assert approval.metadata == {"team": "billing", "amount": 42}
    assert approval.callback_url == "https://example.test/hook"
    assert approval.dedup_key == "refund-acme-42"
    assert approval.expires_at is not None
    assert 599 <= (approval.expires_at - approval.created_at).total_seconds() <= 601


async def test_get_returns_what_create_returned(client: AsyncSignoff) -> None:
    created = await client.approvals.create(action="db.delete")
    assert await client.approvals.get(created.id) == created


async def test_get_of_an_unknown_id_is_not_found(client: AsyncSignoff) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.approvals.get("apr_doesnotexist")
    assert caught.value.request_id


async def test_bad_arguments_are_refused_before_anything_is_sent(client: AsyncSignoff) -> None:
    with pytest.raises(ValueError, match=r"\$\.action"):
        await client.approvals.create(action="")
    with pytest.raises(ValueError, match="expires_in"):
        await client.approvals.create(action="a.b", expires_in=-5)
    with pytest.raises(ValueError, match="wait"):
        await client.approvals.get("apr_x", wait=60)


async def test_a_body_the_broker_refuses_names_the_field(client: AsyncSignoff) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        await client.request("POST", "/v1/approvals", json={"action": "a.b", "expires_in": 0})
    assert "expires_in" in str(caught.value)


async def test_decide_approves_and_records_who_and_why(client: AsyncSignoff) -> None:
    created = await client.approvals.create(action="db.delete")
    decided = await client.approvals.decide(created.id, "approve", comment="looks fine")
    assert decided.status is ApprovalStatus.APPROVED
    assert decided.comment == "looks fine"
    assert decided.decided_by is not None
    assert decided.decided_by.startswith("key_")
    assert decided.decided_at is not None
    assert decided.version == created.version + 1


async def test_deny_and_approve_shorthands(client: AsyncSignoff) -> None:
    first = await client.approvals.create(action="db.delete")
    second = await client.approvals.create(action="db.delete")
    assert (await client.approvals.deny(first.id)).status is ApprovalStatus.DENIED
    assert (await client.approvals.approve(second.id)).status is ApprovalStatus.APPROVED


async def test_a_second_decision_is_a_conflict(client: AsyncSignoff) -> None:
    created = await client.approvals.create(action="db.delete")
    await client.approvals.approve(created.id)
    with pytest.raises(ConflictError, match="approved"):
        await client.approvals.deny(created.id)


async def test_of_two_racing_deciders_exactly_one_wins(client: AsyncSignoff) -> None:
    created = await client.approvals.create(action="db.delete")
    outcomes: list[object] = []

    async def decide(decision: str) -> None:
        try:
            outcomes.append(await client.approvals.decide(created.id, decision))  # type: ignore[arg-type]
        except ConflictError as exc:
            outcomes.append(exc)

    async with anyio.create_task_group() as tg:
        for decision in ["approve", "deny"] * 5:
            tg.start_soon(decide, decision)
    winners = [o for o in outcomes if isinstance(o, Approval)]
    assert len(winners) == 1
    assert sum(isinstance(o, ConflictError) for o in outcomes) == 9
    assert (await client.approvals.get(created.id)).status is winners[0].status


async def test_cancel_withdraws_a_pending_approval_once(client: AsyncSignoff) -> None:
    created = await client.approvals.create(action="db.delete")
    cancelled = await client.approvals.cancel(created.id, comment="not needed")
    assert cancelled.status is ApprovalStatus.CANCELLED
    with pytest.raises(ConflictError):
        await client.approvals.cancel(created.id)


async def test_retrying_with_the_same_idempotency_key_creates_one_approval(
    client: AsyncSignoff,
) -> None:
    first = await client.approvals.create(action="db.delete", idempotency_key="k-1")
    again = await client.approvals.create(action="db.delete", idempotency_key="k-1")
    assert again == first
    assert len(await client.approvals.list(action="db.delete").collect()) == 1


async def test_the_same_idempotency_key_with_another_body_is_refused(
    client: AsyncSignoff,
) -> None:
    await client.approvals.create(action="db.delete", idempotency_key="k-2")
    with pytest.raises(UnprocessableEntityError, match="different request"):
        await client.approvals.create(action="db.drop", idempotency_key="k-2")


async def test_dedup_key_returns_the_pending_approval(client: AsyncSignoff) -> None:
    first = await client.approvals.create(action="db.delete", dedup_key="nightly")
    second = await client.approvals.create(action="db.delete", dedup_key="nightly")
    assert second.id == first.id


async def test_list_filters_and_pages_newest_first(client: AsyncSignoff) -> None:
    created = [await client.approvals.create(action="list.me") for _ in range(5)]
    await client.approvals.approve(created[0].id)
    listed = [a.id async for a in client.approvals.list(action="list.me", limit=2)]
    assert listed == [a.id for a in reversed(created)]
    pending = await client.approvals.list(action="list.me", status="pending").collect()
    assert {a.id for a in pending} == {a.id for a in created[1:]}
    first_page = await client.approvals.list(action="list.me", limit=2)
    assert len(first_page.data) == 2
    assert first_page.next_cursor
    by_id = await client.approvals.list(ids=[created[1].id, created[3].id]).collect()
    assert {a.id for a in by_id} == {created[1].id, created[3].id}


async def test_long_poll_answers_when_the_approval_changes(client: AsyncSignoff) -> None:
    created = await client.approvals.create(action="db.delete")
    result: list[Approval] = []

    async def poll() -> None:
        result.append(await client.approvals.get(created.id, wait=20, after_version=1))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(poll)
            await client.approvals.approve(created.id)
    assert result[0].status is ApprovalStatus.APPROVED


async def test_long_poll_answers_unchanged_after_the_hold(client: AsyncSignoff) -> None:
    created = await client.approvals.create(action="db.delete")
    with anyio.fail_after(5):
        held = await client.approvals.get(created.id, wait=0.3, after_version=1)
    assert held == created


async def test_stream_yields_each_state_until_final(client: AsyncSignoff) -> None:
    created = await client.approvals.create(action="db.delete")
    seen: list[Approval] = []
    with anyio.fail_after(10):
        async with client.approvals.stream(created.id) as updates:
            async for update in updates:
                seen.append(update)
                if update.status is ApprovalStatus.PENDING:
                    await client.approvals.deny(created.id, comment="no")
    assert [a.status for a in seen] == [ApprovalStatus.PENDING, ApprovalStatus.DENIED]
    assert [a.version for a in seen] == [1, 2]


async def test_an_agent_key_cannot_decide(client: AsyncSignoff) -> None:
    created = await client.approvals.create(action="db.delete")
    async with await client_with(client, "approvals:write", "approvals:read") as agent:
        with pytest.raises(PermissionDeniedError, match="approvals:decide"):
            await agent.approvals.approve(created.id)
        assert (await agent.approvals.get(created.id)).status is ApprovalStatus.PENDING


async def test_another_tenants_approval_does_not_exist(
    client: AsyncSignoff, other_tenant: object
) -> None:
    created = await client.approvals.create(action="db.delete")
    async with AsyncSignoff(other_tenant.admin_key, client.base_url) as other:  # type: ignore[attr-defined]
        with pytest.raises(NotFoundError):
            await other.approvals.get(created.id)
        with pytest.raises(NotFoundError):
            await other.approvals.approve(created.id)
        assert await other.approvals.list().collect() == []
