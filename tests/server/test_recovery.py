"""A broker restart loses no run: runs a stop interrupted run again, and runs whose approval
was settled while no broker listened are moved on at startup."""

from __future__ import annotations

import sqlite3

import anyio
import httpx
import pytest

from signoff.server.store.sqlite import SQLiteStore

from .governed import add_policy, create_connection, http_config, run_action
from .helpers import client

pytestmark = pytest.mark.anyio

_INPUT = {"order_id": "o-7", "amount": 3}


async def _settled(http: httpx.AsyncClient, run_id: str) -> dict:
    """The run once it is terminal (long-polls, bounded)."""
    with anyio.fail_after(10):
        while True:
            run: dict = (await http.get(f"/v1/actions/{run_id}?wait=5")).json()
            if run["status"] not in ("running", "awaiting_approval"):
                return run


async def test_a_run_interrupted_by_a_stop_runs_again_after_the_restart(
    start_broker, tmp_path, target
) -> None:
    from conftest import new_tenant

    db = tmp_path / "crash.db"
    first = start_broker(db_path=db, graceful_shutdown_timeout=1.0)
    info = new_tenant(first)
    target.hold()  # the call is in flight when the broker stops
    headers = {"Idempotency-Key": "interrupted"}
    async with client(info.base_url, info.admin_key) as http:
        await add_policy(http, "http.*", "allow")
        connection = await create_connection(http, "http", config=http_config(target.url))

        async def doomed_request() -> None:
            # The broker goes away mid-request: the connection drops, or uvicorn answers
            # 500 for the request it had to cancel.
            try:
                response = await run_action(
                    http, connection["id"], _INPUT, "refund", headers=headers
                )
            except httpx.HTTPError:
                return
            assert response.status_code == 500

        with anyio.fail_after(15):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(doomed_request)
                await target.until_hits(1)
                await anyio.to_thread.run_sync(first.stop)
    target.release()

    second = start_broker(db_path=db)
    async with client(second.base_url, info.admin_key) as http:
        (left,) = (await http.get("/v1/actions")).json()["data"]
        run = await _settled(http, left["id"])
        retried = await run_action(http, connection["id"], _INPUT, "refund", headers=headers)
    assert run["status"] == "succeeded"
    # At least once: the target saw the run twice, both times with the run's id as the key.
    assert [hit.headers["idempotency-key"] for hit in target.hits] == [run["id"], run["id"]]
    # The key the crash left in progress was completed by the recovered execution.
    assert retried.headers["idempotent-replayed"] == "true"
    assert retried.json() == run


async def test_a_run_approved_while_no_broker_ran_executes_at_startup(
    start_broker, tmp_path
) -> None:
    from conftest import new_tenant

    db = tmp_path / "approved.db"
    first = start_broker(db_path=db)
    info = new_tenant(first)
    async with client(info.base_url, info.admin_key) as http:
        connection = await create_connection(http)
        run = (await run_action(http, connection["id"], {"n": 1})).json()
    first.stop()

    # Another tool decides on the database directly (no executor listens to its commit).
    store = SQLiteStore(db)
    await store.open()
    try:
        await store.decide_approval(
            info.id, run["approval_id"], approve=True, comment=None, actor="key_elsewhere"
        )
        moved = await store.get_run(info.id, run["id"])
    finally:
        await store.close()
    assert moved.status == "running"  # in the decision's transaction

    second = start_broker(db_path=db)
    async with client(second.base_url, info.admin_key) as http:
        done = await _settled(http, run["id"])
    assert (done["status"], done["result"]) == ("succeeded", {"n": 1})


async def test_a_run_whose_approval_settled_without_it_is_moved_on_at_startup(
    start_broker, tmp_path
) -> None:
    from conftest import new_tenant

    db = tmp_path / "orphan.db"
    first = start_broker(db_path=db)
    info = new_tenant(first)
    async with client(info.base_url, info.admin_key) as http:
        connection = await create_connection(http)
        approved = (await run_action(http, connection["id"], {"n": 1})).json()
        denied = (await run_action(http, connection["id"], {"n": 2})).json()
    first.stop()
    # As a broker from before governed actions (or a hand edit) would leave it.
    with sqlite3.connect(db) as raw:
        raw.execute(
            "UPDATE approvals SET status = 'approved' WHERE id = ?", (approved["approval_id"],)
        )
        raw.execute("UPDATE approvals SET status = 'denied' WHERE id = ?", (denied["approval_id"],))
    raw.close()

    second = start_broker(db_path=db)
    async with client(second.base_url, info.admin_key) as http:
        ran = await _settled(http, approved["id"])
        stopped = (await http.get(f"/v1/actions/{denied['id']}")).json()
    assert (ran["status"], ran["result"]) == ("succeeded", {"n": 1})
    assert stopped["status"] == "denied"


async def test_an_approval_due_while_no_broker_ran_cancels_its_run_at_startup(
    start_broker, tmp_path
) -> None:
    from conftest import new_tenant

    db = tmp_path / "due.db"
    first = start_broker(db_path=db)
    info = new_tenant(first)
    async with client(info.base_url, info.admin_key) as http:
        connection = await create_connection(http)
        run = (await run_action(http, connection["id"], {})).json()
    first.stop()
    with sqlite3.connect(db) as raw:  # its expiry passed while the broker was down
        raw.execute(
            "UPDATE approvals SET expires_at = '2000-01-01T00:00:00.000000Z' WHERE id = ?",
            (run["approval_id"],),
        )
    raw.close()

    second = start_broker(db_path=db)
    async with client(second.base_url, info.admin_key) as http:
        # The events are read before anything touches the run: the startup sweep did this.
        events = (await http.get("/v1/events?types=action.*")).json()["data"]
    assert [e["type"] for e in events] == ["action.awaiting_approval", "action.cancelled"]


async def test_a_stop_lets_an_approved_action_finish_instead_of_running_it_twice(
    start_broker, tmp_path, target
) -> None:
    from conftest import new_tenant

    db = tmp_path / "drain.db"
    first = start_broker(db_path=db)
    info = new_tenant(first)
    target.hold()
    async with client(info.base_url, info.admin_key) as http:
        connection = await create_connection(http, "http", config=http_config(target.url))
        held = (await run_action(http, connection["id"], _INPUT, "refund")).json()
        assert held["status"] == "awaiting_approval"
        decided = await http.post(
            f"/v1/approvals/{held['approval_id']}/decision", json={"decision": "approve"}
        )
        assert decided.status_code == 200
        with anyio.fail_after(15):
            await target.until_hits(1)  # the executor is calling the target now
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(anyio.to_thread.run_sync, first.stop)
                # Release the call only once the shutdown is under way, past the point where
                # the broker would otherwise cancel its background work.
                while not first.broker.executor._draining:
                    await anyio.sleep(0.01)
                target.release()
    second = start_broker(db_path=db)
    async with client(second.base_url, info.admin_key) as http:
        run = await _settled(http, held["id"])
    assert run["status"] == "succeeded"
    assert len(target.hits) == 1  # not executed again after the restart
