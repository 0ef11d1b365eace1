"""``signoff.evidence``: real evidence packs from the broker verify; a change anywhere fails."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest

from conftest import new_tenant
from signoff import EvidencePack, Signoff, evidence
from signoff.server import BrokerThread

Pack = dict[str, Any]


@pytest.fixture(scope="module")
def packs(broker: BrokerThread) -> Iterator[dict[str, bytes]]:
    """Evidence packs (raw JSON, as served) of an allowed, an approved, a person-denied and a
    policy-denied run; made once through the blocking client."""
    tenant = new_tenant(broker)
    with Signoff(tenant.admin_key, tenant.base_url) as client:
        echo = client.connections.create(name="echo", connector="echo")
        client.policies.create(action="echo.*", effect="allow", metadata={"auto": True})
        client.policies.create(action="echo.*", effect="deny", metadata={"never": True})
        run = {"connection_id": echo.id, "action_type": "echo"}
        allowed = client.actions.execute(
            **run, input={"n": 1, "deep": {"list": [1, 2.5, None]}}, metadata={"auto": True}
        )
        refused = client.actions.execute(**run, input={"n": 4}, metadata={"never": True})
        approved = client.actions.execute(**run, input={"n": 2})
        denied = client.actions.execute(**run, input={"n": 3})
        client.approvals.approve(approved.approval_id or "", comment="fine")
        client.approvals.deny(denied.approval_id or "", comment="no")
        for held in (approved, denied):
            client.actions.wait(held.id, timeout=10)
        yield {
            name: client.request("GET", f"/v1/actions/{run.id}/evidence").content
            for name, run in [
                ("allowed", allowed),
                ("refused", refused),
                ("approved", approved),
                ("denied", denied),
            ]
        }


@pytest.mark.parametrize("name", ["allowed", "refused", "approved", "denied"])
def test_a_pack_from_the_broker_verifies_in_every_form(packs: dict[str, bytes], name: str) -> None:
    raw = packs[name]
    decoded = msgspec.json.decode(raw, type=EvidencePack)
    for form in (raw, raw.decode(), json.loads(raw), decoded):
        assert evidence.check(form) == []
        assert evidence.verify(form)


def _set(path: tuple[Any, ...], value: Any) -> Callable[[Pack], None]:
    def change(pack: Pack) -> None:
        target = pack
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


def _other_hex(pack: Pack, path: tuple[Any, ...]) -> Callable[[Pack], None]:
    target: Any = pack
    for step in path:
        target = target[step]
    flipped = ("1" if target[0] == "0" else "0") + target[1:]
    return _set(path, flipped)


# (what is changed, how) on the approved run's pack: every part of it is covered.
CHANGES: list[tuple[str, Callable[[Pack], Callable[[Pack], None]]]] = [
    ("run input", lambda p: _set(("run", "input", "n"), 99)),
    ("run status", lambda p: _set(("run", "status"), "failed")),
    ("run result", lambda p: _set(("run", "result"), {"n": 99})),
    ("run version", lambda p: _set(("run", "version"), 9)),
    ("run created_at", lambda p: _set(("run", "created_at"), "2020-01-01T00:00:00Z")),
    ("run metadata", lambda p: _set(("run", "metadata"), {"team": "x"})),
    ("run outcome", lambda p: _set(("run", "outcome"), "allow")),
    ("approval comment", lambda p: _set(("approval", "comment"), "rubber stamp")),
    ("approval decided_by", lambda p: _set(("approval", "decided_by"), "key_someone")),
    ("approval status", lambda p: _set(("approval", "status"), "denied")),
    ("approval removed", lambda p: _set(("approval",), None)),
    ("decided_by", lambda p: _set(("decided_by",), "key_forged")),
    ("decision effect", lambda p: _set(("decision", "effect"), "allow")),
    ("decision policy", lambda p: _set(("decision", "policy_id"), "pol_forged")),
    ("input digest", lambda p: _other_hex(p, ("input_digest",))),
    ("result digest", lambda p: _other_hex(p, ("result_digest",))),
    ("result digest removed", lambda p: _set(("result_digest",), None)),
    ("tenant", lambda p: _set(("tenant_id",), "tnt_other")),
    ("first entry data", lambda p: _set(("audit_entries", 0, "data", "input"), {"n": 7})),
    ("last entry actor", lambda p: _set(("audit_entries", -1, "actor"), "key_forged")),
    ("an entry's time", lambda p: _set(("audit_entries", 1, "created_at"), "2020-01-01T00:00:00Z")),
    ("an entry's seq", lambda p: _set(("audit_entries", 0, "seq"), 10_000)),
    ("an entry's type", lambda p: _set(("audit_entries", -1, "type"), "action.failed")),
    ("an entry's subject", lambda p: _set(("audit_entries", 0, "subject_id"), "run_other")),
    ("an entry's hash", lambda p: _other_hex(p, ("audit_entries", 0, "hash"))),
    ("an entry's link", lambda p: _other_hex(p, ("audit_entries", 1, "prev_hash"))),
    ("last entry dropped", lambda p: lambda pack: pack["audit_entries"].pop()),
    ("every entry dropped", lambda p: _set(("audit_entries",), [])),
]


@pytest.mark.parametrize(("what", "make_change"), CHANGES, ids=[what for what, _ in CHANGES])
def test_a_change_anywhere_is_caught(
    packs: dict[str, bytes], what: str, make_change: Callable[[Pack], Callable[[Pack], None]]
) -> None:
    original = json.loads(packs["approved"])
    changed = copy.deepcopy(original)
    make_change(changed)(changed)
    assert changed != original, f"the {what} change changed nothing"
    assert evidence.check(changed), f"a changed {what} went unnoticed"
    assert not evidence.verify(json.dumps(changed))


def test_check_says_what_does_not_match(packs: dict[str, bytes]) -> None:
    pack = json.loads(packs["allowed"])
    pack["run"]["status"] = "failed"
    pack["run"]["result"] = {"n": 2}
    problems = evidence.check(pack)
    assert any(
        "differs from audit entry" in p and "status" in p and "result" in p for p in problems
    )
    assert "result_digest is not the SHA-256 of the run's result" in problems


def test_what_is_not_a_pack_fails_verification_or_is_refused() -> None:
    assert not evidence.verify(b"{}")
    assert evidence.check("not json")[0].startswith("not an evidence pack")
    with pytest.raises(TypeError, match="EvidencePack or its JSON"):
        evidence.check(42)  # type: ignore[arg-type]


def test_signoff_evidence_loads_on_first_use() -> None:
    code = (
        "import sys, signoff; before = 'signoff.evidence' in sys.modules; "
        "check = signoff.evidence.check; print(before, 'signoff.evidence' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["False", "True"]
