"""The approver's command line against a real broker, run as real subprocesses."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from conftest import TenantInfo
from signoff import ApprovalStatus, Signoff


def signoff_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "signoff", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def env(tenant: TenantInfo) -> dict[str, str]:
    return {**os.environ, "SIGNOFF_API_KEY": tenant.admin_key, "SIGNOFF_BASE_URL": tenant.base_url}


@pytest.fixture
def client(tenant: TenantInfo) -> Iterator[Signoff]:
    with Signoff(tenant.admin_key, tenant.base_url) as opened:
        yield opened


def test_approvals_list_shows_a_table_and_json(env: dict[str, str], client: Signoff) -> None:
    first = client.approvals.create(action="db.delete", summary="drop the staging table")
    client.approvals.create(action="db.vacuum", summary="tidy up")
    client.approvals.approve(first.id)

    table = signoff_cli("approvals", "list", env=env)
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[:3] == ["ID", "STATUS", "ACTION"]
    assert len(rows) == 2
    assert first.id in table.stdout
    assert "drop the staging table" in table.stdout

    pending = signoff_cli("approvals", "list", "--status", "pending", "--json", env=env)
    assert pending.returncode == 0, pending.stderr
    listed = json.loads(pending.stdout)
    assert [a["action"] for a in listed] == ["db.vacuum"]


def test_approve_and_deny_decide_and_a_second_decision_fails(
    env: dict[str, str], client: Signoff
) -> None:
    first = client.approvals.create(action="db.delete")
    second = client.approvals.create(action="db.delete")

    approved = signoff_cli("approve", first.id, "--comment", "ok by me", env=env)
    assert approved.returncode == 0, approved.stderr
    assert f"{first.id} approved" in approved.stdout
    decided = client.approvals.get(first.id)
    assert decided.status is ApprovalStatus.APPROVED
    assert decided.comment == "ok by me"

    denied = signoff_cli("deny", second.id, "--json", env=env)
    assert denied.returncode == 0, denied.stderr
    assert json.loads(denied.stdout)["status"] == "denied"

    again = signoff_cli("deny", first.id, env=env)
    assert again.returncode == 1
    assert "approved" in again.stderr  # says what happened before


def test_show_prints_the_arguments(env: dict[str, str], client: Signoff) -> None:
    created = client.approvals.create(action="payments.refund", arguments={"amount": 42})
    shown = signoff_cli("approvals", "show", created.id, env=env)
    assert shown.returncode == 0, shown.stderr
    assert '"amount":42' in shown.stdout
    missing = signoff_cli("approvals", "show", "apr_nope", env=env)
    assert missing.returncode == 1


def test_keys_create_prints_the_key_alone_on_the_last_line(
    env: dict[str, str], tenant: TenantInfo
) -> None:
    created = signoff_cli(
        "keys", "create", "--name", "agent", "--scopes", "approvals:write,approvals:read", env=env
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    with Signoff(key, tenant.base_url) as agent:
        assert agent.approvals.create(action="a.b").status is ApprovalStatus.PENDING
    listed = signoff_cli("keys", "list", env=env)
    assert "agent" in listed.stdout
    assert key not in listed.stdout


@pytest.mark.parametrize(
    ("settings", "code", "says"),
    [
        ({"SIGNOFF_BASE_URL": "http://127.0.0.1:9"}, 3, "could not"),
        ({"SIGNOFF_API_KEY": "sgn_live_AAAAAAAAAAAA_" + "A" * 43}, 4, "unknown API key"),
        ({"SIGNOFF_API_KEY": ""}, 2, "SIGNOFF_API_KEY"),
    ],
)
def test_exit_codes_say_what_went_wrong(
    env: dict[str, str], settings: dict[str, str], code: int, says: str
) -> None:
    result = signoff_cli("approvals", "list", env={**env, **settings})
    assert result.returncode == code, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_a_key_without_the_scope_exits_4(env: dict[str, str], client: Signoff) -> None:
    reader = client.api_keys.create(name="reader", scopes=["approvals:read"])
    created = client.approvals.create(action="db.delete")
    result = signoff_cli("approve", created.id, env={**env, "SIGNOFF_API_KEY": reader.key})
    assert result.returncode == 4
    assert "approvals:decide" in result.stderr


def test_watch_prints_events_live_until_interrupted(env: dict[str, str], client: Signoff) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "signoff", "watch", "--types", "approval.*", "--after", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        lines: queue.Queue[str] = queue.Queue()
        stdout = process.stdout
        assert stdout is not None
        reader = threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True)
        reader.start()
        try:
            created = client.approvals.create(action="watched.op")
            line = lines.get(timeout=30)
            assert "approval.created" in line
            assert created.id in line
            client.approvals.deny(created.id)
            line = lines.get(timeout=30)
            assert "approval.denied" in line
        finally:
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=30)
        reader.join(10)
    assert code == 0


def test_demo_approve_runs_end_to_end() -> None:
    result = signoff_cli("demo", "--approve", timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "exported the Q3 report (allowed by policy: it ran at once" in out
    assert "denied by policy: drop_table did not run" in out
    assert "refunded $42 to ACME" in out
    assert "the agent resumed" in out
    assert "'card': '[redacted]'" in out


def test_demo_deny_stops_the_refund() -> None:
    result = signoff_cli("demo", "--deny", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "denied by key_" in result.stdout
    assert "refund did not run" in result.stdout
    assert "refunded" not in result.stdout


def test_demo_without_a_terminal_or_a_flag_explains_itself() -> None:
    result = signoff_cli("demo")
    assert result.returncode == 2
    assert "--approve or --deny" in result.stderr
