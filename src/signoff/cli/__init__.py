"""The ``signoff`` command.

Each subcommand lives in its own module with a ``register(subparsers)`` function that adds
its parser and sets ``handler`` (a function taking the parsed arguments and returning the
exit code). Adding a subcommand is one module plus one line in `COMMANDS`. Modules import
heavy things (the broker, the client) inside their handlers, so ``signoff --help`` is quick.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from .. import __version__

__all__ = ["main", "COMMANDS"]

#: Modules that register subcommands, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = (
    "signoff.cli.demo",
    "signoff.cli.approvals",
    "signoff.cli.keys",
    "signoff.cli.audit",
    "signoff.cli.serve",
    "signoff.cli.tenants",
)


def build_parser() -> argparse.ArgumentParser:
    """The parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="signoff", description="Put a human sign-off in front of what AI agents do."
    )
    parser.add_argument("--version", action="version", version=f"signoff {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``signoff`` command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    code: int = handler(args)
    return code
