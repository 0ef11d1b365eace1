"""``signoff serve``: run the broker in the foreground."""

from __future__ import annotations

import argparse
import logging
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``serve`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the broker (SQLite)",
        description="Run the signoff broker. On an empty database it creates the default "
        "tenant and prints its admin API key once.",
    )
    parser.add_argument("--db", default="signoff.db", help="SQLite database file (./signoff.db)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8700, help="port to bind (8700; 0 = any)")
    parser.add_argument(
        "--admin-key-file",
        help="also write a newly created admin key to this file (mode 0600)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from ..server.config import BrokerConfig
    from ..server.runner import serve

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = BrokerConfig(db_path=args.db, host=args.host, port=args.port)
    serve(config, admin_key_file=args.admin_key_file)
    return 0
