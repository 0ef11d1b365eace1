"""``signoff audit verify --db``: the chains re-computed offline, as a real subprocess."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys

import httpx
import pytest


def _verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "signoff", "audit", "verify", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def database(start_broker, tmp_path):
    """A stopped broker's database with two tenants' chains: (path, [(id, name)...])."""
    from conftest import new_tenant

    db = tmp_path / "audit.db"
    broker = start_broker(db_path=db)
    tenants = []
    for _ in range(2):
        info = new_tenant(broker)
        headers = info.headers
        for action in ("a.one", "a.two"):
            response = httpx.post(
                f"{info.base_url}/v1/approvals", json={"action": action}, headers=headers
            )
            assert response.status_code == 201
        tenants.append(info.id)
    broker.stop()
    return db, tenants


def test_intact_chains_exit_0_with_a_line_per_tenant(database) -> None:
    db, tenants = database
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    result = _verify("--db", str(db))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    for tenant_id in tenants:
        (line,) = [line for line in lines if line.startswith(tenant_id)]
        assert ": ok, 3 entries, head 3 " in line
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # read-only


def test_an_edited_entry_exits_1_naming_the_tenant_and_seq(database) -> None:
    db, (first, second) = database
    with sqlite3.connect(db) as raw:
        raw.execute(
            "UPDATE events SET data = replace(data, 'a.two', 'a.too')"
            " WHERE tenant_id = ? AND seq = 3",
            (second,),
        )
    raw.close()
    result = _verify("--db", str(db))
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert any(line.startswith(first) and ": ok" in line for line in lines)
    (broken,) = [line for line in lines if line.startswith(second)]
    assert "BROKEN at seq 3" in broken
    assert "1 of 2 audit chains are broken" in result.stderr


def test_one_tenant_by_id_or_name(database) -> None:
    db, (first, _) = database
    with sqlite3.connect(db) as raw:
        (name,) = raw.execute("SELECT name FROM tenants WHERE id = ?", (first,)).fetchone()
    raw.close()
    by_id = _verify("--db", str(db), "--tenant", first)
    by_name = _verify("--db", str(db), "--tenant", name)
    unknown = _verify("--db", str(db), "--tenant", "nobody")
    assert by_id.returncode == by_name.returncode == 0
    assert by_id.stdout == by_name.stdout
    assert len(by_id.stdout.strip().splitlines()) == 1
    assert unknown.returncode == 2
    assert "nobody" in unknown.stderr


def test_a_missing_database_exits_2(tmp_path) -> None:
    result = _verify("--db", str(tmp_path / "nothing.db"))
    assert result.returncode == 2
    assert "no database" in result.stderr
