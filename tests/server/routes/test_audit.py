"""``/v1/audit`` (entries, filters, verification, tampering) and the evidence pack."""

from __future__ import annotations

import hashlib
import itertools
import sqlite3
from datetime import datetime, timedelta

import pytest

from signoff._chain import canonical_json, entry_hash

from ..governed import add_policy, create_connection, run_action
from ..helpers import assert_error, client, create_approval, key_id_of, mint_key

pytestmark = pytest.mark.anyio


def _recomputed(entry: dict) -> str:
    return entry_hash(
        bytes.fromhex(entry["prev_hash"]),
        tenant_id=entry["tenant_id"],
        seq=entry["seq"],
        id=entry["id"],
        type=entry["type"],
        subject_id=entry["subject_id"],
        actor=entry["actor"],
        created_at=datetime.fromisoformat(entry["created_at"]),
        data=entry["data"],
    ).hex()


async def _approved_run(http) -> dict:
    connection = await create_connection(http)
    run = (await run_action(http, connection["id"], {"amount": 3})).json()
    await http.post(f"/v1/approvals/{run['approval_id']}/decision", json={"decision": "approve"})
    done: dict = (await http.get(f"/v1/actions/{run['id']}?wait=5&after_version=2")).json()
    assert done["status"] == "succeeded"
    return done


async def test_entries_are_the_chained_log_in_seq_order(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        await _approved_run(http)
        entries = (await http.get("/v1/audit")).json()
    data = entries["data"]
    assert [e["seq"] for e in data] == list(range(1, len(data) + 1))
    assert entries["next_cursor"] is None
    assert {e["tenant_id"] for e in data} == {tenant.id}
    assert data[0]["prev_hash"] == "00" * 32
    for before, entry in itertools.pairwise(data):
        assert entry["prev_hash"] == before["hash"]
    assert all(_recomputed(e) == e["hash"] for e in data)


async def test_filters_by_type_subject_and_time_and_pages(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        run = await _approved_run(http)
        everything = (await http.get("/v1/audit")).json()["data"]
        actions = (await http.get("/v1/audit?type=action.*")).json()["data"]
        about_run = (await http.get(f"/v1/audit?subject_id={run['id']}")).json()["data"]
        about_both = (
            await http.get(f"/v1/audit?subject_id={run['id']},{run['approval_id']}")
        ).json()["data"]
        late = everything[-2]["created_at"]
        since = (await http.get("/v1/audit", params={"since": late})).json()["data"]
        future = (datetime.fromisoformat(late) + timedelta(days=1)).isoformat()
        none_yet = (await http.get("/v1/audit", params={"since": future})).json()["data"]
        first = (await http.get("/v1/audit?limit=2")).json()
        rest = (await http.get(f"/v1/audit?cursor={first['next_cursor']}")).json()["data"]
        bad_since = await http.get("/v1/audit?since=yesterday")
        naive_since = await http.get("/v1/audit?since=2026-01-01T00:00:00")
        bad_cursor = await http.get("/v1/audit?cursor=abc")
        bad_type = await http.get("/v1/audit?type=a b")
    types = [e["type"] for e in actions]
    assert types == ["action.awaiting_approval", "action.running", "action.succeeded"]
    assert [e["type"] for e in about_run] == types
    assert {e["subject_id"] for e in about_both} == {run["id"], run["approval_id"]}
    assert len(about_both) == 5  # created, approved; awaiting, running, succeeded
    assert since == [e for e in everything if e["created_at"] >= late]
    assert none_yet == []
    assert first["data"] + rest == everything
    for response in (bad_since, naive_since, bad_cursor, bad_type):
        assert_error(response, 400, "invalid_request")


async def test_verify_reports_an_intact_chain_with_its_head(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        await _approved_run(http)
        entries = (await http.get("/v1/audit")).json()["data"]
        verification = (await http.get("/v1/audit/verify")).json()
    assert verification == {
        "ok": True,
        "checked": len(entries),
        "first_broken_seq": None,
        "head_seq": entries[-1]["seq"],
        "head_hash": entries[-1]["hash"],
        "reason": None,
    }


async def test_verify_finds_an_edited_entry(broker, tenant, other_tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        run = await _approved_run(http)
        for _ in range(2):
            await create_approval(http)
        (edited,) = (await http.get(f"/v1/audit?subject_id={run['id']}&limit=1")).json()["data"]
        # The hand edit: one event's data changed in the database file itself.
        with sqlite3.connect(broker.db_path) as raw:
            changed = raw.execute(
                "UPDATE events SET data = replace(data, '\"amount\":3', '\"amount\":300')"
                " WHERE tenant_id = ? AND seq = ?",
                (tenant.id, edited["seq"]),
            ).rowcount
        raw.close()
        broken = (await http.get("/v1/audit/verify")).json()
    async with client(other_tenant.base_url, other_tenant.admin_key) as http:
        await create_approval(http)
        theirs = (await http.get("/v1/audit/verify")).json()
    assert changed == 1
    assert (broken["ok"], broken["first_broken_seq"]) == (False, edited["seq"])
    assert broken["checked"] == edited["seq"] - 1
    assert "edited" in broken["reason"]
    assert theirs["ok"] is True


async def test_verify_finds_a_rewritten_entry_by_its_broken_link(broker, tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        for _ in range(3):
            await create_approval(http)
        entry = (await http.get("/v1/audit")).json()["data"][2]
        # A careful forger re-hashes the entry it edits, but not the ones after it.
        entry["actor"] = "key_forged"
        forged = _recomputed(entry)
        with sqlite3.connect(broker.db_path) as raw:
            raw.execute(
                "UPDATE events SET actor = 'key_forged', hash = ? WHERE tenant_id = ? AND seq = 3",
                (bytes.fromhex(forged), tenant.id),
            )
        raw.close()
        broken = (await http.get("/v1/audit/verify")).json()
    assert (broken["ok"], broken["first_broken_seq"]) == (False, 4)
    assert "link" in broken["reason"]


async def test_verify_finds_a_deleted_last_entry_by_the_head(broker, tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        await create_approval(http)
        with sqlite3.connect(broker.db_path) as raw:
            raw.execute("DELETE FROM events WHERE tenant_id = ? AND seq = 2", (tenant.id,))
        raw.close()
        broken = (await http.get("/v1/audit/verify")).json()
    assert (broken["ok"], broken["first_broken_seq"], broken["head_seq"]) == (False, 2, 2)


def _sha(value) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


async def test_the_evidence_pack_of_an_approved_run(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        run = await _approved_run(http)
        approval = (await http.get(f"/v1/approvals/{run['approval_id']}")).json()
        pack = (await http.get(f"/v1/actions/{run['id']}/evidence")).json()
        chain = {e["seq"]: e for e in (await http.get("/v1/audit")).json()["data"]}
    assert pack["tenant_id"] == tenant.id
    assert pack["run"] == run
    assert pack["approval"] == approval
    assert pack["decision"] == {"effect": "require_approval", "policy_id": None}
    assert pack["decided_by"] == key_id_of(tenant.admin_key)
    assert pack["input_digest"] == _sha({"amount": 3})
    assert pack["result_digest"] == _sha({"amount": 3})
    entries = pack["audit_entries"]
    assert [e["type"] for e in entries] == [
        "approval.created",
        "action.awaiting_approval",
        "approval.approved",
        "action.running",
        "action.succeeded",
    ]
    for entry in entries:  # each is the chain's own entry, and its hash holds
        assert entry == chain[entry["seq"]]
        assert _recomputed(entry) == entry["hash"]
    assert entries[-1]["data"] == run
    assert entries[2]["data"] == approval


async def test_the_evidence_pack_of_a_policy_decision(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        allow = await add_policy(http, "echo.*", "allow", metadata={"ok": True})
        deny = await add_policy(http, "echo.*", "deny")
        connection = await create_connection(http)
        allowed = (await run_action(http, connection["id"], {}, metadata={"ok": True})).json()
        denied = (await run_action(http, connection["id"], {})).json()
        allowed_pack = (await http.get(f"/v1/actions/{allowed['id']}/evidence")).json()
        denied_pack = (await http.get(f"/v1/actions/{denied['id']}/evidence")).json()
        missing = await http.get("/v1/actions/run_nope/evidence")
    assert allowed_pack["decision"] == {"effect": "allow", "policy_id": allow["id"]}
    assert allowed_pack["decided_by"] == f"policy:{allow['id']}"
    assert allowed_pack["approval"] is None
    assert [e["type"] for e in allowed_pack["audit_entries"]] == [
        "action.running",
        "action.succeeded",
    ]
    assert denied_pack["decision"] == {"effect": "deny", "policy_id": deny["id"]}
    assert denied_pack["result_digest"] is None
    assert [e["data"] for e in denied_pack["audit_entries"]] == [denied]
    assert_error(missing, 404, "not_found")


async def test_the_sdk_verifies_the_packs_it_is_served(tenant) -> None:
    evidence = pytest.importorskip("signoff.evidence")
    async with client(tenant.base_url, tenant.admin_key) as http:
        await add_policy(http, "echo.*", "allow", metadata={"auto": True})
        connection = await create_connection(http)
        approved = await _approved_run(http)
        allowed = (await run_action(http, connection["id"], {}, metadata={"auto": True})).json()
        waiting = (await run_action(http, connection["id"], {"w": 1})).json()
        packs = [
            (await http.get(f"/v1/actions/{run['id']}/evidence")).content
            for run in (approved, allowed, waiting)
        ]
    assert [evidence.check(pack) for pack in packs] == [[], [], []]


async def test_audit_needs_audit_read_and_sees_only_its_tenant(tenant, other_tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as admin:
        await create_approval(admin)
        reader = await mint_key(admin, "actions:read", "approvals:read")
        auditor = await mint_key(admin, "audit:read")
    async with client(tenant.base_url, reader) as http:
        denied = [await http.get("/v1/audit"), await http.get("/v1/audit/verify")]
    async with client(tenant.base_url, auditor) as http:
        mine = (await http.get("/v1/audit")).json()["data"]
    async with client(other_tenant.base_url, other_tenant.admin_key) as http:
        theirs = (await http.get("/v1/audit")).json()["data"]
    for response in denied:
        assert_error(response, 403, "insufficient_scope")
    assert {e["tenant_id"] for e in mine} == {tenant.id}
    assert {e["tenant_id"] for e in theirs} == {other_tenant.id}
    assert not {e["id"] for e in mine} & {e["id"] for e in theirs}
