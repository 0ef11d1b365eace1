"""The SQLite schema's migrations: the numbered ``migrations/sqlite/NNNN_*.sql`` files, applied
in order when the store opens, each once and each in its own transaction."""

from __future__ import annotations

import sqlite3
from importlib import resources

from ..ids import utcnow
from .sqlite_rows import ts

__all__ = ["migrate", "schema_version"]


def migrate(conn: sqlite3.Connection) -> None:
    """Apply every migration file not applied yet, each in its own transaction, in order."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations"
        " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    folder = resources.files("signoff.server.store").joinpath("migrations", "sqlite")
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    for entry in files:
        version = int(entry.name.split("_", 1)[0])
        if version in applied:
            continue
        script = entry.read_text(encoding="utf-8")
        # executescript commits first; the explicit BEGIN/COMMIT makes each file atomic.
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{script}\n;"
                f"INSERT INTO schema_migrations (version, name, applied_at)"
                f" VALUES ({version}, '{entry.name}', '{ts(utcnow())}');\nCOMMIT;"
            )
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest migration applied (0 on a database never migrated)."""
    row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)
