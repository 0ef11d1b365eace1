"""``signoff.embedded()`` and ``Signoff.embedded()``: a broker in this process, zero setup."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

import signoff
from signoff import ApprovalStatus, AsyncSignoff, AuthenticationError, Signoff

pytestmark = pytest.mark.anyio


async def test_embedded_runs_a_broker_and_yields_an_admin_client() -> None:
    with anyio.fail_after(30):
        async with signoff.embedded() as client:
            assert client.base_url.startswith("http://127.0.0.1:")
            created = await client.approvals.create(action="db.delete")
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.approvals.approve, created.id)
                waited = await client.approvals.wait(created.id, timeout=10)
            assert waited.status is ApprovalStatus.APPROVED
            await client.policies.create(action="x.*", effect="allow")  # admin scope
            assert len(await client.api_keys.list().collect()) >= 1


async def test_an_existing_database_is_reopened_with_its_data(tmp_path: Path) -> None:
    db = tmp_path / "dev.db"
    with anyio.fail_after(30):
        async with signoff.embedded(db) as first:
            created = await first.approvals.create(action="db.delete", summary="keep me")
            session_key = first._http._headers["Authorization"].removeprefix("Bearer ")
            base_url = first.base_url
        # The session's key was revoked when the block ended.
        async with signoff.embedded(db) as second:
            again = await second.approvals.get(created.id)
            assert again.summary == "keep me"
            async with AsyncSignoff(session_key, second.base_url) as stale:
                with pytest.raises(AuthenticationError, match="revoked"):
                    await stale.approvals.get(created.id)
    assert base_url.startswith("http://127.0.0.1:")


def test_the_sync_twin(tmp_path: Path) -> None:
    with Signoff.embedded(tmp_path / "sync.db") as client:
        created = client.approvals.create(action="db.delete")
        assert client.approvals.approve(created.id).status is ApprovalStatus.APPROVED
    with Signoff.embedded(tmp_path / "sync.db") as client:
        assert client.approvals.get(created.id).status is ApprovalStatus.APPROVED
