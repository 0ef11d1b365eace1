"""The blocking client (`signoff.Signoff`) has connections, actions and audit too."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import TenantInfo
from signoff import ActionRun, RunStatus, Signoff, SyncPaginator, SyncStream, evidence


@pytest.fixture
def client(tenant: TenantInfo) -> Iterator[Signoff]:
    with Signoff(tenant.admin_key, tenant.base_url) as opened:
        yield opened


def test_governed_actions_without_await(client: Signoff) -> None:
    echo = client.connections.create(name="echo", connector="echo")
    assert client.connections.get(echo.id) == echo
    assert [t.name for t in client.connections.action_types(echo.id)] == ["echo"]
    client.policies.create(action="echo.*", effect="allow")

    run = client.actions.execute(connection_id=echo.id, action_type="echo", input={"n": 1})
    assert run.status is RunStatus.SUCCEEDED
    assert client.actions.wait(run.id, timeout=5) == run
    assert evidence.verify(client.actions.evidence(run.id))

    items: list[Any] = [
        {"connection_id": echo.id, "action_type": "echo", "input": {"n": n}} for n in range(30)
    ]
    done: list[int] = []
    results = client.actions.execute_many(
        items, batch_size=7, on_progress=lambda count, total: done.append(count)
    )
    assert [r.result for r in results if isinstance(r, ActionRun)] == [{"n": n} for n in range(30)]
    assert done[-1] == 30

    stream = client.actions.as_completed(items[:10], batch_size=3)
    assert isinstance(stream, SyncStream)
    assert sorted(result.index for result in stream) == list(range(10))

    listed = client.actions.list(connection_id=echo.id)
    assert isinstance(listed, SyncPaginator)
    assert len(listed.collect()) == 41
    assert client.audit.verify().ok
    assert client.audit.list(subject_id=run.id).collect()[-1].data["id"] == run.id


def test_stopping_as_completed_early_stops_the_rest(client: Signoff) -> None:
    echo = client.connections.create(name="echo", connector="echo")
    client.policies.create(action="echo.*", effect="allow")
    items = ({"connection_id": echo.id, "action_type": "echo", "input": {}} for _ in range(5000))
    with client.actions.as_completed(items, batch_size=1, concurrency=2) as results:
        first = next(results)
    assert first.ok
    # Closing cancels the engine: its task on the client's loop thread ends promptly...
    assert client._loop.call(_engine_ended_within, 5.0)
    # ...after at most the window of 2 requests (one cancelled mid-flight may still land).
    assert len(client.actions.list().collect()) < 10


async def _engine_ended_within(seconds: float) -> bool:
    """Whether as_completed's engine task (if still there) ends within ``seconds``."""
    engines = {t for t in asyncio.all_tasks() if t.get_name() == "signoff actions.as_completed"}
    if engines:
        await asyncio.wait(engines, timeout=seconds)
    return all(task.done() for task in engines)
