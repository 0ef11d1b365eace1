"""`SQLiteStore` for governed execution: runs follow their approval in its transaction, keys
are claimed per run, finishing completes only the run's own key, recovery scans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from signoff.models import ErrorDetail, PolicyCreate
from signoff.server.idempotency import fingerprint_value
from signoff.server.store.base import (
    IdempotencyClaim,
    IdempotencyHit,
    NewConnection,
    NewRun,
    NotFound,
    RunCreated,
    RunFilter,
    RunFinish,
    RunRef,
)
from signoff.server.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path, clock):
    opened = SQLiteStore(tmp_path / "actions.db", clock=clock, idempotency_ttl=60)
    await opened.open()
    yield opened
    await opened.close()


async def _setup(store: SQLiteStore):
    tenant = await store.create_tenant("t")
    made = await store.create_connection(
        tenant.id,
        NewConnection(name="c", connector="echo", config={}, secrets={"token": "x" * 8}),
        actor="key_a",
    )
    connection = await store.get_connection(tenant.id, made.id)
    return tenant, connection


def _claim(key: str, input: dict) -> IdempotencyClaim:
    return IdempotencyClaim(
        key=key,
        fingerprint=fingerprint_value("POST", "/v1/actions", input),
        method="POST",
        path="/v1/actions",
        api_key_id="key_a",
        respond=lambda run: (201, b"{}"),
    )


async def test_a_decision_moves_its_run_and_queues_it_after_commit(store) -> None:
    tenant, connection = await _setup(store)
    queued: list[RunRef] = []
    store.subscribe_runs(queued.append)
    (created,) = await store.create_runs(
        tenant.id, [NewRun(connection, "echo", {"a": 1}, {})], actor="key_a", default_expires_in=60
    )
    assert isinstance(created, RunCreated)
    assert created.approval is not None
    assert queued == []
    await store.decide_approval(
        tenant.id, created.approval.id, approve=True, comment=None, actor="key_b"
    )
    run = await store.get_run(tenant.id, created.run.id)
    entries = await store.list_audit_entries(tenant.id, after=0, limit=100)
    assert queued == [RunRef(tenant.id, run.id)]
    assert (run.status, run.version, run.started_at) == ("running", 2, run.updated_at)
    assert [e.type for e in entries][-2:] == ["approval.approved", "action.running"]
    assert entries[-1].seq == entries[-2].seq + 1  # appended in the decision's transaction
    assert entries[-1].actor == "key_b"


async def test_an_expiry_cancels_the_run_waiting_on_it(store, clock) -> None:
    tenant, connection = await _setup(store)
    (created,) = await store.create_runs(
        tenant.id, [NewRun(connection, "echo", {}, {})], actor="key_a", default_expires_in=30
    )
    clock.now += timedelta(seconds=31)
    assert await store.expire_due() == 1
    run = await store.get_run(tenant.id, created.run.id)
    assert (run.status, run.completed_at) == ("cancelled", clock.now)


async def test_a_key_claimed_before_fails_only_its_own_run(store) -> None:
    tenant, connection = await _setup(store)
    await store.create_policy(
        tenant.id, PolicyCreate(action="echo.*", effect="deny"), actor="key_a"
    )
    runs = [
        NewRun(connection, "echo", {"i": 0}, {}, claim=_claim("k", {"i": 0})),
        NewRun(connection, "echo", {"i": 1}, {}, claim=_claim("k", {"i": 0})),
        NewRun(connection, "echo", {"i": 2}, {}),
    ]
    first, second, third = await store.create_runs(
        tenant.id, runs, actor="key_a", default_expires_in=60
    )
    listed = await store.list_runs(tenant.id, RunFilter(), limit=10, cursor=None)
    assert isinstance(first, RunCreated)
    assert isinstance(third, RunCreated)
    assert isinstance(second, IdempotencyHit)
    assert second.record.state == "completed"  # a denied run's answer is final at once
    assert {run.id for run in listed.items} == {first.run.id, third.run.id}


async def test_finishing_completes_the_runs_own_key_only(store, clock) -> None:
    tenant, connection = await _setup(store)
    await store.create_policy(
        tenant.id, PolicyCreate(action="echo.*", effect="allow"), actor="key_a"
    )
    (created,) = await store.create_runs(
        tenant.id,
        [NewRun(connection, "echo", {}, {}, claim=_claim("slow", {}))],
        actor="key_a",
        default_expires_in=60,
    )
    assert isinstance(created, RunCreated)
    assert created.run.status == "running"
    (retry,) = await store.create_runs(
        tenant.id,
        [NewRun(connection, "echo", {}, {}, claim=_claim("slow", {}))],
        actor="key_a",
        default_expires_in=60,
    )
    assert isinstance(retry, IdempotencyHit)
    assert retry.record.state == "in_progress"
    # The run outlives its key (a long outage); another request claims the key meanwhile.
    clock.now += timedelta(seconds=61)
    other = NewRun(connection, "echo", {"other": 1}, {}, claim=_claim("slow", {"other": 1}))
    (taken,) = await store.create_runs(tenant.id, [other], actor="key_a", default_expires_in=60)
    assert isinstance(taken, RunCreated)
    (run,) = await store.finish_runs([RunFinish(tenant.id, created.run.id, result={"ok": 1})])
    (hit,) = await store.create_runs(tenant.id, [other], actor="key_a", default_expires_in=60)
    assert (run.status, run.result) == ("succeeded", {"ok": 1})
    assert isinstance(hit, IdempotencyHit)
    assert hit.record.fingerprint == other.claim.fingerprint
    assert hit.record.state == "in_progress"  # another request's key: not the run's to complete


async def test_a_run_on_a_connection_deleted_since_it_was_read_is_not_found(store) -> None:
    tenant, connection = await _setup(store)  # the record as a request read it: live
    await store.create_policy(
        tenant.id, PolicyCreate(action="echo.*", effect="allow"), actor="key_a"
    )
    await store.delete_connection(tenant.id, connection.id, actor="key_a")
    claim = _claim("late", {})
    (outcome,) = await store.create_runs(
        tenant.id,
        [NewRun(connection, "echo", {}, {}, claim=claim)],
        actor="key_a",
        default_expires_in=60,
    )
    listed = await store.list_runs(tenant.id, RunFilter(), limit=10, cursor=None)
    # The key was not claimed: the same key on a live connection creates its run.
    live = await store.create_connection(
        tenant.id, NewConnection(name="c2", connector="echo", config={}, secrets={}), actor="k"
    )
    record = await store.get_connection(tenant.id, live.id)
    (retried,) = await store.create_runs(
        tenant.id,
        [NewRun(record, "echo", {}, {}, claim=claim)],
        actor="key_a",
        default_expires_in=60,
    )
    assert isinstance(outcome, NotFound)
    assert str(outcome) == connection.id
    assert listed.items == []
    assert isinstance(retried, RunCreated)


async def test_finish_records_an_error_and_ignores_a_finished_run(store) -> None:
    tenant, connection = await _setup(store)
    await store.create_policy(
        tenant.id, PolicyCreate(action="echo.*", effect="allow"), actor="key_a"
    )
    (created,) = await store.create_runs(
        tenant.id, [NewRun(connection, "echo", {}, {})], actor="key_a", default_expires_in=60
    )
    error = ErrorDetail(type="boom", message="it broke", details={"n": 1})
    (failed,) = await store.finish_runs([RunFinish(tenant.id, created.run.id, error=error)])
    (again,) = await store.finish_runs([RunFinish(tenant.id, created.run.id, result=1)])
    assert (failed.status, failed.error, failed.result) == ("failed", error, None)
    assert again == failed


async def test_recovery_scans_page_through_running_runs(store) -> None:
    tenant, connection = await _setup(store)
    await store.create_policy(
        tenant.id, PolicyCreate(action="echo.*", effect="allow"), actor="key_a"
    )
    created = await store.create_runs(
        tenant.id,
        [NewRun(connection, "echo", {"i": i}, {}) for i in range(5)],
        actor="key_a",
        default_expires_in=60,
    )
    first = await store.list_running_runs(after=0, limit=3)
    rest = await store.list_running_runs(after=first[-1][0], limit=3)
    found = [ref.run_id for _, ref in [*first, *rest]]
    assert found == [c.run.id for c in created if isinstance(c, RunCreated)]
    assert await store.settle_released_runs() == 0


async def test_evidence_is_read_in_one_snapshot(store) -> None:
    tenant, connection = await _setup(store)
    (created,) = await store.create_runs(
        tenant.id, [NewRun(connection, "echo", {}, {})], actor="key_a", default_expires_in=60
    )
    assert isinstance(created, RunCreated)
    assert created.approval is not None
    await store.cancel_approval(tenant.id, created.approval.id, comment=None, actor="key_a")
    evidence = await store.get_run_evidence(tenant.id, created.run.id)
    assert evidence.run.status == "cancelled"
    assert evidence.approval is not None
    assert evidence.approval.status == "cancelled"
    assert [e.type for e in evidence.entries] == [
        "approval.created",
        "action.awaiting_approval",
        "approval.cancelled",
        "action.cancelled",
    ]
    assert evidence.entries[-1].data["version"] == evidence.run.version
