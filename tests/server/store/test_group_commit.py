"""The SQLite store's group commit and its separate reader connection."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from signoff.server.audit import verify_tenant
from signoff.server.store.sqlite import SQLiteStore
from signoff.server.tenants import create_tenant

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the broker's own loop; the store is backend-neutral but runs on it


async def test_concurrent_writes_share_commits_and_a_failing_one_rolls_back_alone(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(str(tmp_path / "group.db"))
    await store.open()
    try:
        tenant_id, _ = await create_tenant(store, "t", pepper=None)
        db = store._db
        before = db.commits
        outcomes: dict[str, object] = {}

        async def write(name: str, fail: bool) -> None:
            def unit(tx: object) -> int:
                seq = tx.append_event(tenant_id, "test.event", name, None, {"n": name})  # type: ignore[attr-defined]
                if fail:
                    raise ValueError(f"{name} failed after appending")
                return int(seq)

            try:
                outcomes[name] = await db.write(unit)
            except ValueError as exc:
                outcomes[name] = exc

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                for i in range(40):
                    tg.start_soon(write, f"sub_{i}", i == 17)
        assert isinstance(outcomes["sub_17"], ValueError)
        good = {n: o for n, o in outcomes.items() if not isinstance(o, Exception)}
        assert len(good) == 39
        assert db.commits - before < 40  # some writes shared a commit
        events = await store.list_audit_entries(tenant_id, after=0, limit=1000)
        tests = [e for e in events if e.type == "test.event"]
        assert sorted(e.subject_id for e in tests) == sorted(good)  # sub_17 left no trace
        seqs = [e.seq for e in events]
        assert seqs == list(range(1, len(seqs) + 1))  # gap-free
        assert sorted(good.values()) == [e.seq for e in tests]  # each got its own seq
        assert (await verify_tenant(store, tenant_id)).ok
    finally:
        await store.close()


async def test_reads_see_every_committed_write(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "reads.db"))
    await store.open()
    try:
        tenant_id, _ = await create_tenant(store, "t", pepper=None)
        for i in range(5):
            await store._db.write(
                lambda tx, i=i: tx.append_event(tenant_id, "test.event", f"s{i}", None, {})
            )
            entries = await store.list_audit_entries(tenant_id, after=0, limit=100)
            assert entries[-1].subject_id == f"s{i}"
    finally:
        await store.close()


async def test_a_failed_commit_fails_the_whole_group_and_the_store_recovers(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(str(tmp_path / "fail.db"))
    await store.open()
    try:
        tenant_id, _ = await create_tenant(store, "t", pepper=None)
        db = store._db
        head_before = (await store.list_audit_entries(tenant_id, after=0, limit=100))[-1].seq

        def poison(tx: object) -> None:
            # A deferred foreign-key violation passes its savepoint but fails the COMMIT.
            tx.execute("PRAGMA defer_foreign_keys = ON")  # type: ignore[attr-defined]
            tx.execute(  # type: ignore[attr-defined]
                "INSERT INTO api_keys (id, tenant_id, name, secret_hash, scopes, prefix,"
                " created_at) VALUES ('key_x', 'tnt_missing', 'x', 'h', '[]', 'p',"
                " '2026-01-01T00:00:00Z')"
            )

        def append(tx: object) -> int:
            return int(tx.append_event(tenant_id, "test.event", "sub", None, {}))  # type: ignore[attr-defined]

        outcomes: list[object] = []

        async def run(fn: object) -> None:
            try:
                outcomes.append(await db.write(fn))  # type: ignore[arg-type]
            except Exception as exc:
                outcomes.append(exc)

        # Hold the writer so both units land in the same group.
        lock = db._write_lock
        assert lock is not None
        release = anyio.Event()

        async def hold_the_writer() -> None:
            async with lock:
                await release.wait()

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(hold_the_writer)
                while not lock.locked():
                    await anyio.sleep(0)
                tg.start_soon(run, poison)
                tg.start_soon(run, append)
                while len(db._pending) < 2:
                    await anyio.sleep(0)
                release.set()
        assert all(isinstance(o, Exception) for o in outcomes), outcomes
        entries = await store.list_audit_entries(tenant_id, after=0, limit=100)
        assert entries[-1].seq == head_before  # the appended event was not kept
        # The writer connection is usable again.
        assert await db.write(append) == head_before + 1
        assert (await verify_tenant(store, tenant_id)).ok
    finally:
        await store.close()


async def test_a_failing_after_commit_hook_does_not_strand_writers(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "hook.db"))
    await store.open()
    try:
        tenant_id, _ = await create_tenant(store, "t", pepper=None)
        db = store._db

        def broken_hook(tenant: str, seq: int) -> None:
            raise RuntimeError("subscriber bug")

        db.on_commit = broken_hook
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(
                        db.write,
                        lambda tx: tx.append_event(tenant_id, "test.event", "s", None, {}),
                    )
        assert len(await store.list_audit_entries(tenant_id, after=0, limit=100)) >= 5
    finally:
        await store.close()
