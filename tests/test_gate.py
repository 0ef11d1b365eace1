"""``require_approval``: the function runs only on "approved", for sync and async callables."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

import signoff
from _sdk import deciding
from conftest import TenantInfo
from signoff import (
    APIConnectionError,
    ApprovalCancelled,
    ApprovalDenied,
    ApprovalExpired,
    ApprovalStatus,
    ApprovalTimeout,
    AsyncSignoff,
    Signoff,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def sync_client(tenant: TenantInfo) -> Iterator[Signoff]:
    with Signoff(tenant.admin_key, tenant.base_url) as opened:
        yield opened


def gated_refund(client: Any, calls: list[Any], **options: Any) -> Any:
    @signoff.require_approval(
        "payments.refund",
        summary=lambda amount, customer: f"Refund {amount} to {customer}",
        client=client,
        **options,
    )
    async def refund(amount: int, customer: str, card: str = "4242") -> str:
        """Refund a customer."""
        calls.append((amount, customer, card))
        return f"refunded {amount}"

    return refund


async def test_an_approved_call_runs_and_returns(client: AsyncSignoff) -> None:
    calls: list[Any] = []
    refund = gated_refund(client, calls)
    with anyio.fail_after(15):
        async with deciding(client, "approve"):
            assert await refund(42, "ACME") == "refunded 42"
    assert calls == [(42, "ACME", "4242")]
    [approval] = await client.approvals.list().collect()
    assert approval.status is ApprovalStatus.APPROVED
    assert approval.summary == "Refund 42 to ACME"
    assert approval.function_name.endswith("gated_refund.<locals>.refund")  # type: ignore[union-attr]
    assert approval.arguments == {"amount": 42, "customer": "ACME", "card": "4242"}


async def test_a_denied_call_raises_and_does_not_run(client: AsyncSignoff) -> None:
    calls: list[Any] = []
    refund = gated_refund(client, calls)
    with anyio.fail_after(15):
        async with deciding(client, "deny", comment="too much"):
            with pytest.raises(ApprovalDenied, match="too much") as caught:
                await refund(10_000, "ACME")
    assert calls == []
    assert caught.value.approval.status is ApprovalStatus.DENIED


async def test_an_expired_request_raises_and_does_not_run(client: AsyncSignoff) -> None:
    calls: list[Any] = []
    refund = gated_refund(client, calls, expires_in=1)
    with anyio.fail_after(15), pytest.raises(ApprovalExpired):
        await refund(1, "ACME")
    assert calls == []


async def test_a_cancelled_request_raises_and_does_not_run(client: AsyncSignoff) -> None:
    calls: list[Any] = []
    refund = gated_refund(client, calls)
    with anyio.fail_after(15):
        async with deciding(client, "cancel"):
            with pytest.raises(ApprovalCancelled):
                await refund(1, "ACME")
    assert calls == []


async def test_no_decision_in_time_withdraws_the_request(client: AsyncSignoff) -> None:
    calls: list[Any] = []
    refund = gated_refund(client, calls, timeout=0.5)
    with anyio.fail_after(15), pytest.raises(ApprovalTimeout) as caught:
        await refund(1, "ACME")
    assert calls == []
    assert caught.value.approval.status is ApprovalStatus.CANCELLED
    assert (await client.approvals.get(caught.value.approval.id)).status is (
        ApprovalStatus.CANCELLED
    )


async def test_an_unreachable_broker_fails_closed(tenant: TenantInfo) -> None:
    calls: list[Any] = []
    async with AsyncSignoff(
        tenant.admin_key, "http://127.0.0.1:9", max_retries=1, deadline=2
    ) as down:
        refund = gated_refund(down, calls)
        with anyio.fail_after(15), pytest.raises(APIConnectionError):
            await refund(1, "ACME")
    assert calls == []


async def test_a_policy_that_allows_means_no_wait(client: AsyncSignoff) -> None:
    await client.policies.create(action="payments.*", effect="allow")
    calls: list[Any] = []
    refund = gated_refund(client, calls, timeout=0.01)  # would time out if it waited at all
    assert await refund(5, "ACME") == "refunded 5"
    assert calls == [(5, "ACME", "4242")]


async def test_a_policy_that_denies_raises_at_once(client: AsyncSignoff) -> None:
    await client.policies.create(action="payments.refund", effect="deny")
    refund = gated_refund(client, [], timeout=0.01)
    with pytest.raises(ApprovalDenied, match="policy:"):
        await refund(5, "ACME")


async def test_redacted_arguments_are_never_sent(client: AsyncSignoff) -> None:
    await client.policies.create(action="payments.*", effect="allow")
    refund = gated_refund(client, [], redact=["card"], metadata={"team": "billing"})
    await refund(5, "ACME", card="4111-1111-1111-1111")
    [approval] = await client.approvals.list().collect()
    assert approval.arguments == {"amount": 5, "customer": "ACME", "card": "[redacted]"}
    assert "4111" not in str(approval)
    assert approval.metadata == {"team": "billing"}


async def test_values_that_are_not_json_are_sent_as_their_repr(client: AsyncSignoff) -> None:
    await client.policies.create(action="files.*", effect="allow")

    class Path:
        def __repr__(self) -> str:
            return "Path('/tmp/x')"

    @signoff.require_approval("files.delete", client=client)
    async def delete(path: object, *, force: bool = False) -> None:
        pass

    await delete(Path())
    [approval] = await client.approvals.list().collect()
    assert approval.arguments == {"path": "Path('/tmp/x')", "force": False}


async def test_name_docstring_and_signature_survive(client: AsyncSignoff) -> None:
    async def refund(amount: int, customer: str, card: str = "4242") -> str:
        """Refund a customer."""
        return ""

    gated = signoff.require_approval("payments.refund", client=client)(refund)
    assert gated.__name__ == "refund"
    assert gated.__doc__ == "Refund a customer."
    assert inspect.signature(gated) == inspect.signature(refund)
    assert inspect.iscoroutinefunction(gated)
    assert gated.__wrapped__ is refund  # type: ignore[attr-defined]


async def test_a_gated_method_does_not_send_self(client: AsyncSignoff) -> None:
    await client.policies.create(action="db.*", effect="allow")

    class Database:
        @signoff.require_approval("db.drop", summary=lambda table: f"drop {table}", client=client)
        async def drop(self, table: str) -> str:
            return f"dropped {table}"

    assert await Database().drop("users") == "dropped users"
    [approval] = await client.approvals.list().collect()
    assert approval.arguments == {"table": "users"}
    assert approval.summary == "drop users"


async def test_a_sync_function_is_gated_through_the_sync_client(
    client: AsyncSignoff, sync_client: Signoff
) -> None:
    calls: list[int] = []

    @signoff.require_approval("db.delete", client=sync_client)
    def delete(row: int) -> int:
        calls.append(row)
        return row

    with anyio.fail_after(15):
        async with deciding(client, "approve"):
            assert await anyio.to_thread.run_sync(delete, 7) == 7
        async with deciding(client, "deny"):
            with pytest.raises(ApprovalDenied):
                await anyio.to_thread.run_sync(delete, 8)
    assert calls == [7]


async def test_a_sync_gated_method_works(client: AsyncSignoff, sync_client: Signoff) -> None:
    await client.policies.create(action="db.*", effect="allow")

    class Table:
        @signoff.require_approval("db.truncate", client=sync_client)
        def truncate(self, name: str) -> str:
            return f"truncated {name}"

    assert await anyio.to_thread.run_sync(Table().truncate, "logs") == "truncated logs"


async def test_a_sync_gated_function_refuses_to_block_a_running_loop(
    sync_client: Signoff,
) -> None:
    calls: list[int] = []

    @signoff.require_approval("db.delete", client=sync_client)
    def delete(row: int) -> None:
        calls.append(row)

    with pytest.raises(RuntimeError, match="async"):
        delete(1)
    assert calls == []


async def test_a_sync_timeout_withdraws_the_request(
    client: AsyncSignoff, sync_client: Signoff
) -> None:
    @signoff.require_approval("db.delete", client=sync_client, timeout=0.5)
    def delete(row: int) -> None:
        raise AssertionError("must not run")

    with anyio.fail_after(15), pytest.raises(ApprovalTimeout) as caught:
        await anyio.to_thread.run_sync(delete, 1)
    assert caught.value.approval.status is ApprovalStatus.CANCELLED


async def test_the_default_client_comes_from_the_environment(
    client: AsyncSignoff, tenant: TenantInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    await client.policies.create(action="env.*", effect="allow")
    monkeypatch.setenv("SIGNOFF_API_KEY", tenant.admin_key)
    monkeypatch.setenv("SIGNOFF_BASE_URL", tenant.base_url)

    @signoff.require_approval("env.check")
    async def check() -> str:
        return "ran"

    assert await check() == "ran"
    from signoff import gate

    default = gate._default_async.pop(gate._current_loop())
    await default.aclose()


def test_redacting_an_unknown_parameter_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="not parameters"):

        @signoff.require_approval("x.y", redact=["pasword"], client=object())  # type: ignore[arg-type]
        def f(password: str) -> None: ...


async def test_a_cancelled_gated_call_withdraws_its_request_and_stays_cancelled(
    client: AsyncSignoff,
) -> None:
    calls: list[Any] = []
    refund = gated_refund(client, calls)
    with anyio.fail_after(15):
        with anyio.move_on_after(1) as scope:
            await refund(1, "ACME")
        assert scope.cancelled_caught  # the cancellation came through as itself
    assert calls == []
    [approval] = await client.approvals.list().collect()
    assert approval.status is ApprovalStatus.CANCELLED


async def test_a_failed_withdrawal_does_not_replace_the_cancellation(
    client: AsyncSignoff, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise APIConnectionError("the broker went away")

    refund = gated_refund(client, [])
    with anyio.fail_after(15):
        with anyio.move_on_after(1) as scope:
            monkeypatch.setattr(client.approvals, "cancel", unreachable)
            await refund(1, "ACME")
    assert scope.cancelled_caught


async def test_an_async_function_refuses_a_blocking_client(sync_client: Signoff) -> None:
    refund = gated_refund(sync_client, [])
    with pytest.raises(TypeError, match="AsyncSignoff"):
        await refund(1, "ACME")


def test_an_unknown_status_fails_closed() -> None:
    import msgspec

    from signoff import Approval, ApprovalError
    from signoff.gate import _raise_unless_approved

    approval = msgspec.json.decode(
        b'{"id":"apr_1","status":"escalated","action":"a.b","version":2,'
        b'"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}',
        type=Approval,
    )
    with pytest.raises(ApprovalError, match="escalated"):
        _raise_unless_approved(approval)
