"""``signoff keys create|list|revoke``: manage the tenant's API keys (needs an admin key)."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import EXIT_OK, add_client_options, ago, guarded, open_client, print_json, print_table

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``keys`` subcommand group."""
    group = subparsers.add_parser("keys", help="manage API keys (admin)")
    actions = group.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    create = actions.add_parser(
        "create",
        help="mint a key and print it",
        description="Mint an API key. The secret is printed alone on the last line, once.",
    )
    create.add_argument("--name", required=True, help="what the key is for")
    create.add_argument(
        "--scopes",
        required=True,
        help="comma-separated scopes, e.g. approvals:write,approvals:read",
    )
    add_client_options(create)
    create.set_defaults(handler=guarded(run_create))

    listing = actions.add_parser("list", help="list the tenant's keys")
    add_client_options(listing)
    listing.set_defaults(handler=guarded(run_list))

    revoke = actions.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("id", help="the key's id (key_...)")
    add_client_options(revoke)
    revoke.set_defaults(handler=guarded(run_revoke))


def run_create(args: argparse.Namespace) -> int:
    """Mint the key; its secret goes on the last line so scripts can read it."""
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    with open_client(args) as client:
        created = client.api_keys.create(name=args.name, scopes=scopes)
    if args.json:
        print_json(created)
        return EXIT_OK
    print(f"Created {created.id} ({created.name}) with {', '.join(created.scopes)}.")
    print("The key is shown this once:")
    print(created.key)
    return EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    """Print the keys (never their secrets)."""
    with open_client(args) as client:
        keys = client.api_keys.list().collect()
    if args.json:
        print_json(keys)
        return EXIT_OK
    print_table(
        ("ID", "NAME", "SCOPES", "CREATED", "LAST USED", "REVOKED"),
        (
            (
                k.id,
                k.name,
                ",".join(k.scopes),
                ago(k.created_at),
                ago(k.last_used_at),
                ago(k.revoked_at),
            )
            for k in keys
        ),
    )
    return EXIT_OK


def run_revoke(args: argparse.Namespace) -> int:
    """Revoke a key."""
    with open_client(args) as client:
        key = client.api_keys.revoke(args.id)
    if args.json:
        print_json(key)
    else:
        print(f"{key.id} revoked")
    return EXIT_OK
