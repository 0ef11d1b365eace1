"""``client.audit`` against the real broker: the hash-chained log, filtered; the chain verified."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from _actions import echo_connection
from _sdk import client_with
from signoff import AsyncSignoff, PermissionDeniedError
from signoff._chain import GENESIS_HASH, entry_hash

pytestmark = pytest.mark.anyio


async def test_entries_form_a_chain_in_seq_order(client: AsyncSignoff) -> None:
    echo = await echo_connection(client)
    await client.actions.execute(connection_id=echo.id, action_type="echo", input={"n": 1})
    entries = await client.audit.list(limit=2).collect()
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0].prev_hash == GENESIS_HASH.hex()
    for before, entry in itertools.pairwise(entries):
        assert entry.prev_hash == before.hash
    for entry in entries:
        recomputed = entry_hash(
            bytes.fromhex(entry.prev_hash),
            tenant_id=entry.tenant_id,
            seq=entry.seq,
            id=entry.id,
            type=entry.type,
            subject_id=entry.subject_id,
            actor=entry.actor,
            created_at=entry.created_at,
            data=entry.data,
        )
        assert recomputed.hex() == entry.hash


async def test_filters_by_type_subject_and_time(client: AsyncSignoff) -> None:
    echo = await echo_connection(client)
    run = await client.actions.execute(connection_id=echo.id, action_type="echo", input={})
    about_run = await client.audit.list(subject_id=run.id).collect()
    assert about_run
    assert {e.subject_id for e in about_run} == {run.id}
    assert about_run[-1].data["status"] == "succeeded"
    actions = await client.audit.list(type="action.*").collect()
    assert actions
    assert all(e.type.startswith("action.") for e in actions)
    everything = await client.audit.list().collect()
    later = await client.audit.list(since=everything[-1].created_at).collect()
    assert later[0].created_at >= everything[-1].created_at
    future = everything[-1].created_at + timedelta(hours=1)
    assert await client.audit.list(since=future).collect() == []
    with pytest.raises(ValueError, match="timezone"):
        client.audit.list(since=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="limit"):
        client.audit.list(limit=1001)


async def test_verify_recomputes_the_whole_chain(client: AsyncSignoff) -> None:
    echo = await echo_connection(client)
    await client.actions.execute(connection_id=echo.id, action_type="echo", input={})
    entries = await client.audit.list().collect()
    result = await client.audit.verify()
    assert result.ok
    assert result.first_broken_seq is None
    assert result.checked == len(entries)
    assert (result.head_seq, result.head_hash) == (entries[-1].seq, entries[-1].hash)


async def test_reading_the_log_needs_the_audit_scope(client: AsyncSignoff) -> None:
    async with await client_with(client, "actions:read", "approvals:read") as reader:
        with pytest.raises(PermissionDeniedError):
            await reader.audit.verify()
    async with await client_with(client, "audit:read") as auditor:
        assert (await auditor.audit.verify()).ok
