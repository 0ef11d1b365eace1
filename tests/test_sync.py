"""`Signoff`, the blocking client: the async client driven from a background loop thread."""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import runpy
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import TenantInfo
from signoff import (
    ApprovalStatus,
    AsyncSignoff,
    ConflictError,
    NotFoundError,
    Signoff,
    SignoffError,
    SyncPaginator,
    SyncStream,
)
from signoff._pagination import AsyncPaginator
from signoff._streaming import AsyncStream

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def client(tenant: TenantInfo) -> Iterator[Signoff]:
    with Signoff(tenant.admin_key, tenant.base_url) as opened:
        yield opened


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "signoff-loop"]


def test_the_same_calls_without_await(client: Signoff) -> None:
    created = client.approvals.create(action="db.delete", summary="drop it")
    assert client.approvals.get(created.id) == created
    decided = client.approvals.approve(created.id, comment="fine")
    assert decided.status is ApprovalStatus.APPROVED
    with pytest.raises(ConflictError):
        client.approvals.deny(created.id)
    with pytest.raises(NotFoundError):
        client.approvals.get("apr_nope")


def test_list_iterates_every_page(client: Signoff) -> None:
    created = [client.approvals.create(action="page.me") for _ in range(5)]
    listed = client.approvals.list(action="page.me", limit=2)
    assert isinstance(listed, SyncPaginator)
    assert [a.id for a in listed] == [a.id for a in reversed(created)]
    assert [len(p.data) for p in listed.pages()] == [2, 2, 1]
    assert len(listed.first_page().data) == 2
    assert len(listed.collect(limit=3)) == 3


def test_stream_iterates_until_final(client: Signoff) -> None:
    created = client.approvals.create(action="db.delete")
    seen = []
    with client.approvals.stream(created.id) as updates:
        assert isinstance(updates, SyncStream)
        for update in updates:
            seen.append(update.status)
            if update.status is ApprovalStatus.PENDING:
                client.approvals.deny(created.id)
    assert seen == [ApprovalStatus.PENDING, ApprovalStatus.DENIED]


def test_stopping_a_stream_early_closes_it(client: Signoff) -> None:
    created = client.approvals.create(action="db.delete")
    with client.approvals.stream(created.id) as updates:
        first = next(updates)
    assert first.status is ApprovalStatus.PENDING
    client.approvals.approve(created.id)  # the client is still usable


def test_wait_returns_a_decision_made_on_another_thread(client: Signoff) -> None:
    created = client.approvals.create(action="db.delete")
    decider = threading.Timer(0.2, client.approvals.approve, args=(created.id,))
    decider.start()
    try:
        assert client.approvals.wait(created.id, timeout=10).status is ApprovalStatus.APPROVED
    finally:
        decider.join()


def test_twenty_threads_share_one_client(client: Signoff) -> None:
    errors: list[BaseException] = []
    ids: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            for _ in range(5):
                created = client.approvals.create(action="threads.run")
                assert client.approvals.get(created.id).id == created.id
                with lock:
                    ids.append(created.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(set(ids)) == 100
    assert len(client.approvals.list(action="threads.run").collect()) == 100


def test_it_works_inside_a_running_event_loop(client: Signoff) -> None:
    async def notebook_cell() -> str:
        # A notebook (or an async framework calling a sync tool) runs code like this on its
        # own loop; the call blocks that loop, but it works.
        return client.approvals.create(action="nb.run").id

    assert asyncio.run(notebook_cell()).startswith("apr_")


def test_a_blocking_call_from_the_clients_own_loop_is_refused(client: Signoff) -> None:
    async def on_the_loop_thread() -> None:
        client.approvals.list().collect()

    with pytest.raises(SignoffError, match="deadlock"):
        client._loop.call(on_the_loop_thread)


def test_ctrl_c_cancels_the_call_in_flight(client: Signoff) -> None:
    created = client.approvals.create(action="db.delete")
    # A real SIGINT, as Ctrl-C sends: it interrupts the blocked wait in the main thread.
    interrupter = threading.Timer(0.5, os.kill, args=(os.getpid(), signal.SIGINT))
    interrupter.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        client.approvals.wait(created.id, timeout=30)
    assert time.monotonic() - started < 10
    interrupter.join()
    # The wait was cancelled on the loop, not left running behind the caller's back.
    assert client.async_client._wait_hub._count == 0
    assert client.approvals.get(created.id).status is ApprovalStatus.PENDING


def test_close_stops_the_thread(tenant: TenantInfo) -> None:
    before = len(loop_threads())
    client = Signoff(tenant.admin_key, tenant.base_url)
    client.approvals.list().collect()
    assert len(loop_threads()) == before + 1
    client.close()
    client.close()  # idempotent
    assert len(loop_threads()) == before
    with pytest.raises(SignoffError, match="closed"):
        client.approvals.list().collect()


def test_with_options_shares_the_thread(client: Signoff) -> None:
    threads = len(loop_threads())
    patient = client.with_options(timeout=60, max_retries=5)
    assert patient.async_client.timeout == 60
    assert patient.approvals.create(action="opt.ok").id.startswith("apr_")
    assert len(loop_threads()) == threads
    patient.close()
    assert client.approvals.list().collect()  # the parent keeps working


def test_no_thread_is_left_behind_at_interpreter_exit(tenant: TenantInfo) -> None:
    script = textwrap.dedent(
        f"""
        import signoff
        client = signoff.Signoff({tenant.admin_key!r}, {tenant.base_url!r})
        client.approvals.list().collect()
        # never closed: interpreter exit must still be prompt and clean
        """
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 20


def test_bad_arguments_fail_before_the_thread_starts() -> None:
    before = len(loop_threads())
    with pytest.raises(SignoffError, match="SIGNOFF_API_KEY"):
        Signoff(api_key="", base_url="http://127.0.0.1:9")
    assert len(loop_threads()) == before


# -- the sync surface stays in step with the async one ---------------------------------------


def test_the_generated_sync_resources_are_up_to_date() -> None:
    generator = runpy.run_path(str(ROOT / "scripts" / "gen_sync.py"))
    assert generator["main"](["--check"]) == 0, "run: uv run python scripts/gen_sync.py"


def test_every_async_resource_has_a_sync_twin_with_the_same_signatures() -> None:
    names = [
        name
        for name, value in vars(AsyncSignoff).items()
        if isinstance(value, functools.cached_property) and not name.startswith("_")
    ]
    assert {"approvals", "events", "policies", "api_keys"} <= set(names)
    async_client = AsyncSignoff("sgn_live_x_y", "http://127.0.0.1:9", _warn_unclosed=False)
    sync_client = Signoff._wrap(async_client, None, owns_loop=False)  # type: ignore[arg-type]
    for name in names:
        async_resource = type(getattr(async_client, name))
        sync_resource = type(getattr(sync_client, name))
        for method, fn in inspect.getmembers(async_resource, inspect.isfunction):
            if method.startswith("_"):
                continue
            twin = getattr(sync_resource, method, None)
            assert twin is not None, f"Signoff.{name}.{method} is missing"
            mine, theirs = inspect.signature(fn), inspect.signature(twin)
            assert [(p.name, p.kind, p.default) for p in mine.parameters.values()] == [
                (p.name, p.kind, p.default) for p in theirs.parameters.values()
            ], f"Signoff.{name}.{method} takes other arguments than AsyncSignoff.{name}.{method}"
            expected = str(mine.return_annotation)
            expected = expected.replace("AsyncPaginator", "SyncPaginator")
            expected = expected.replace("AsyncStream", "SyncStream")
            assert str(theirs.return_annotation) == expected, (name, method)


def test_wrappers_are_the_documented_types() -> None:
    assert SyncPaginator.__name__ == "SyncPaginator"
    assert AsyncPaginator.__name__ == "AsyncPaginator"
    assert AsyncStream.__name__ == "AsyncStream"
