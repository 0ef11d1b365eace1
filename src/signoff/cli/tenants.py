"""``signoff tenants create NAME``: add a tenant and print its admin key."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``tenants`` subcommand group."""
    parser: argparse.ArgumentParser = subparsers.add_parser("tenants", help="manage tenants")
    actions = parser.add_subparsers(dest="tenants_command", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create",
        help="create a tenant and print its admin API key",
        description="Create a tenant. Its admin API key is printed alone on the last line.",
    )
    create.add_argument("name", help="the tenant's unique name")
    create.add_argument("--db", default="signoff.db", help="SQLite database file (./signoff.db)")
    create.set_defaults(handler=run_create)


def run_create(args: argparse.Namespace) -> int:
    """Create the tenant; exit code 1 if the name is taken."""
    import anyio

    from ..server.store.base import DuplicateName
    from ..server.store.sqlite import SQLiteStore
    from ..server.tenants import create_tenant

    async def create() -> tuple[str, str]:
        store = SQLiteStore(args.db)
        await store.open()
        try:
            return await create_tenant(store, args.name, pepper=None)
        finally:
            await store.close()

    try:
        tenant_id, token = anyio.run(create)
    except DuplicateName:
        print(f"signoff: a tenant named {args.name!r} exists already", file=sys.stderr)
        return 1
    print(f"Created tenant {args.name} ({tenant_id}). Its admin API key (shown this once):")
    print(token)
    return 0
