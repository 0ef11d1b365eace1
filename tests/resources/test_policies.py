"""``client.policies`` against the real broker: rules decide before anyone is asked."""

from __future__ import annotations

import pytest

from signoff import ApprovalStatus, AsyncSignoff, NotFoundError, PolicyEffect

pytestmark = pytest.mark.anyio


async def test_rules_allow_deny_or_require_a_human(client: AsyncSignoff) -> None:
    allow = await client.policies.create(action="reports.*", effect="allow", name="reads")
    await client.policies.create(action="db.drop*", effect="deny")
    assert allow.effect is PolicyEffect.ALLOW
    assert allow.name == "reads"

    allowed = await client.approvals.create(action="reports.export")
    assert allowed.status is ApprovalStatus.APPROVED
    assert allowed.policy_id == allow.id
    assert allowed.decided_by == f"policy:{allow.id}"

    denied = await client.approvals.create(action="db.drop_table")
    assert denied.status is ApprovalStatus.DENIED

    unmatched = await client.approvals.create(action="payments.refund")
    assert unmatched.status is ApprovalStatus.PENDING


async def test_higher_priority_and_metadata_conditions_win(client: AsyncSignoff) -> None:
    await client.policies.create(action="payments.*", effect="allow", priority=0)
    big = await client.policies.create(
        action="payments.refund",
        effect="require_approval",
        priority=10,
        metadata={"tier": "large"},
        approver_group="finance",
        expires_in=120,
    )
    small = await client.approvals.create(action="payments.refund", metadata={"tier": "small"})
    assert small.status is ApprovalStatus.APPROVED
    large = await client.approvals.create(action="payments.refund", metadata={"tier": "large"})
    assert large.status is ApprovalStatus.PENDING
    assert large.policy_id == big.id
    assert large.approver_group == "finance"
    assert large.expires_at is not None
    assert 119 <= (large.expires_at - large.created_at).total_seconds() <= 121


async def test_list_in_evaluation_order_and_delete(client: AsyncSignoff) -> None:
    low = await client.policies.create(action="a.*", effect="allow", priority=1)
    high = await client.policies.create(action="a.*", effect="deny", priority=5)
    assert [p.id for p in await client.policies.list().collect()] == [high.id, low.id]
    assert (await client.policies.delete(high.id)).id == high.id
    assert [p.id for p in await client.policies.list().collect()] == [low.id]
    with pytest.raises(NotFoundError):
        await client.policies.delete(high.id)


async def test_a_bad_rule_is_refused_before_it_is_sent(client: AsyncSignoff) -> None:
    with pytest.raises(ValueError, match="effect"):
        await client.policies.create(action="a.*", effect="maybe")  # type: ignore[arg-type]
