"""Approver commands: ``signoff approvals list|show``, ``signoff approve``, ``deny``, ``watch``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import (
    EXIT_OK,
    add_client_options,
    ago,
    guarded,
    open_client,
    print_json,
    print_table,
)

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``approvals``, ``approve``, ``deny`` and ``watch``."""
    group = subparsers.add_parser("approvals", help="list and show approvals")
    actions = group.add_subparsers(dest="approvals_command", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="list approvals, newest first")
    listing.add_argument("--status", help="only this status, e.g. pending (comma-separated ok)")
    listing.add_argument("--action", help="only this action name")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (50)")
    add_client_options(listing)
    listing.set_defaults(handler=guarded(run_list))

    show = actions.add_parser("show", help="everything about one approval")
    show.add_argument("id", help="the approval's id (apr_...)")
    add_client_options(show)
    show.set_defaults(handler=guarded(run_show))

    for verb, decision in (("approve", "approve"), ("deny", "deny")):
        parser = subparsers.add_parser(
            verb,
            help=f"{verb} a pending approval",
            description=f"{verb.capitalize()} a pending approval. Exit code 1 if it was "
            "already decided, expired or cancelled.",
        )
        parser.add_argument("id", help="the approval's id (apr_...)")
        parser.add_argument("--comment", help="why (shown to the requester, kept in the log)")
        add_client_options(parser)
        parser.set_defaults(handler=guarded(run_decide), decision=decision)

    watch = subparsers.add_parser(
        "watch",
        help="follow the tenant's events live",
        description="Print each event as it happens, until Ctrl-C.",
    )
    watch.add_argument("--types", default=None, help="event types, globs ok (approval.*)")
    watch.add_argument(
        "--after",
        type=_cursor,
        default=None,
        help="start after this event seq, or 'now' (the default)",
    )
    add_client_options(watch)
    watch.set_defaults(handler=guarded(run_watch))


def run_list(args: argparse.Namespace) -> int:
    """Print approvals as a table (or JSON)."""
    if args.limit < 1:
        raise ValueError("--limit must be at least 1")
    with open_client(args) as client:
        status = args.status.split(",") if args.status else None
        approvals = client.approvals.list(
            status=status, action=args.action, limit=min(args.limit, 200)
        ).collect(limit=args.limit)
    if args.json:
        print_json(approvals)
        return EXIT_OK
    if not approvals:
        print("no approvals")
        return EXIT_OK
    print_table(
        ("ID", "STATUS", "ACTION", "CREATED", "EXPIRES", "SUMMARY"),
        (
            (
                a.id,
                a.status.value,
                a.action,
                ago(a.created_at),
                ago(a.expires_at) if a.status.value == "pending" else "",
                a.summary or "",
            )
            for a in approvals
        ),
    )
    return EXIT_OK


def run_show(args: argparse.Namespace) -> int:
    """Print one approval with its arguments."""
    import msgspec

    with open_client(args) as client:
        approval = client.approvals.get(args.id)
    if args.json:
        print_json(approval)
        return EXIT_OK
    fields = msgspec.structs.asdict(approval)
    for name, value in fields.items():
        if value in (None, {}, []):
            continue
        if isinstance(value, dict):
            value = msgspec.json.encode(value).decode()
        print(f"{name:>15}: {getattr(value, 'value', value)}")
    return EXIT_OK


def run_decide(args: argparse.Namespace) -> int:
    """Approve or deny; say who and when if someone was first."""
    with open_client(args) as client:
        approval = client.approvals.decide(args.id, args.decision, comment=args.comment)
    if args.json:
        print_json(approval)
    else:
        print(f"{approval.id} {approval.status.value}: {approval.action}")
    return EXIT_OK


def _cursor(value: str) -> int | str:
    """An event seq or ``now``, for ``--after``."""
    if value == "now":
        return value
    try:
        seq = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an event seq or 'now': {value!r}") from None
    if seq < 0:
        raise argparse.ArgumentTypeError(f"an event seq is 0 or more, not {seq}")
    return seq


def run_watch(args: argparse.Namespace) -> int:
    """Print events as they happen until interrupted."""
    after: int | str | None = args.after
    with open_client(args) as client:
        try:
            with client.events.stream(types=args.types, after=after) as events:  # type: ignore[arg-type]
                for event in events:
                    if args.json:
                        print_json(event)
                    else:
                        status = event.data.get("status", "")
                        what = event.data.get("action") or event.data.get("action_type") or ""
                        print(
                            f"{event.created_at:%H:%M:%S}  {event.seq:>6}  {event.type:<22} "
                            f"{event.subject_id}  {status} {what}".rstrip()
                        )
                    sys.stdout.flush()
        except KeyboardInterrupt:
            return EXIT_OK
    return EXIT_OK
