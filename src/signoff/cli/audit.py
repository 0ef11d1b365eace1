"""``signoff audit verify --db PATH [--tenant ID]``: re-compute the audit hash chains offline.

It opens the SQLite file read-only (no broker needed, and a running one is not disturbed),
checks every tenant's chain (or one) and prints one line per tenant. Exit code 0 when every
chain is intact, 1 when one is broken, 2 when the database or tenant cannot be found.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3

    from ..models import AuditEntry, AuditVerification
    from ..server.store.base import Tenant

__all__ = ["register"]

_PAGE = 1000


def register(subparsers: Any) -> None:
    """Add the ``audit`` subcommand group."""
    parser: argparse.ArgumentParser = subparsers.add_parser("audit", help="check the audit log")
    actions = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify",
        help="re-compute every tenant's audit hash chain (offline)",
        description="Re-compute the audit hash chain of every tenant (or one) from the SQLite "
        "file, read-only. Exit code 0: every chain is intact; 1: one is broken (the tenant "
        "and the first broken seq are printed); 2: no such database or tenant.",
    )
    verify.add_argument("--db", default="signoff.db", help="SQLite database file (./signoff.db)")
    verify.add_argument("--tenant", help="check only this tenant (its id or its name)")
    verify.set_defaults(handler=run_verify)


def _connect(path: str) -> sqlite3.Connection:
    import sqlite3

    # mode=ro: verifying must never change the file it vouches for (not even a migration).
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def _entries(conn: sqlite3.Connection, tenant_id: str, head_seq: int) -> Iterator[AuditEntry]:
    from ..server.ids import utcnow
    from ..server.store.sqlite_db import Tx
    from ..server.store.sqlite_events import list_audit_entries

    tx = Tx(conn, utcnow(), 0)
    after = 0
    while after < head_seq:
        page = list_audit_entries(tx, tenant_id, after, _PAGE)
        for entry in page:
            if entry.seq > head_seq:
                return
            yield entry
        if len(page) < _PAGE:
            return
        after = page[-1].seq


def _verify(conn: sqlite3.Connection, tenant: Tenant) -> AuditVerification:
    from ..server.audit import ChainCheck
    from ..server.ids import utcnow
    from ..server.store.sqlite_db import Tx
    from ..server.store.sqlite_events import audit_head

    conn.execute("BEGIN")  # one snapshot: the head and the entries agree
    try:
        head = audit_head(Tx(conn, utcnow(), 0), tenant.id)
        check = ChainCheck()
        for entry in _entries(conn, tenant.id, head.seq):
            if not check.add(entry):
                break
        return check.finish(head)
    finally:
        conn.execute("COMMIT")


def _line(tenant: Tenant, result: AuditVerification) -> str:
    who = f"{tenant.id} ({tenant.name})"
    if result.ok:
        head = (result.head_hash or "")[:16]
        entries = "entry" if result.checked == 1 else "entries"
        return f"{who}: ok, {result.checked} {entries}, head {result.head_seq} {head}"
    return f"{who}: BROKEN at seq {result.first_broken_seq}: {result.reason}"


def run_verify(args: argparse.Namespace) -> int:
    """Verify the chains; the exit code says whether all are intact."""
    import sqlite3

    from ..server.ids import utcnow
    from ..server.store.sqlite_db import Tx
    from ..server.store.sqlite_keys import list_tenants

    if not Path(args.db).is_file():
        print(f"signoff: no database at {args.db}", file=sys.stderr)
        return 2
    try:
        conn = _connect(args.db)
    except sqlite3.Error as exc:
        print(f"signoff: cannot open {args.db}: {exc}", file=sys.stderr)
        return 2
    try:
        tenants = list_tenants(Tx(conn, utcnow(), 0))
        if args.tenant is not None:
            tenants = [t for t in tenants if args.tenant in (t.id, t.name)]
            if not tenants:
                print(f"signoff: no tenant {args.tenant!r} in {args.db}", file=sys.stderr)
                return 2
        broken = 0
        for tenant in tenants:
            result = _verify(conn, tenant)
            broken += not result.ok
            print(_line(tenant, result))
    finally:
        conn.close()
    if broken:
        print(f"{broken} of {len(tenants)} audit chains are broken", file=sys.stderr)
        return 1
    return 0
