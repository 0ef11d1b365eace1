"""``signoff demo``: an agent gets stopped, approved (or denied) and resumed, in one terminal.

It starts a broker in-process on a temporary database, adds two policies, and runs an
agent-like script that calls three gated tools: one a policy allows, one a policy denies,
and one that needs a human. The human is you (a prompt, when stdin is a terminal) or
``--approve`` / ``--deny``. For the third it shows how long the agent took to resume after
the decision.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from ._common import EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from ..client import AsyncSignoff
    from ..models import Approval

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="watch an agent get stopped, approved and resumed (no setup)",
        description="Run a self-contained demo on an embedded broker. You decide the "
        "request that needs a human at a prompt, or with --approve / --deny.",
    )
    decision = parser.add_mutually_exclusive_group()
    decision.add_argument("--approve", action="store_true", help="approve without asking")
    decision.add_argument("--deny", action="store_true", help="deny without asking")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; exit 0 when it ran to the end, whatever you decided."""
    decision = "approve" if args.approve else "deny" if args.deny else None
    if decision is None and not sys.stdin.isatty():
        print(
            "signoff demo: stdin is not a terminal, so nobody can be asked; "
            "pass --approve or --deny",
            file=sys.stderr,
        )
        return EXIT_USAGE
    import anyio

    anyio.run(_demo, decision)
    return EXIT_OK


def say(text: str = "") -> None:
    """Print at once (the demo interleaves an agent and an approver)."""
    print(text, flush=True)


async def _demo(decision: str | None) -> None:
    import anyio

    import signoff
    from signoff import ApprovalError

    async with signoff.embedded() as client:
        say(f"signoff demo: a broker on {client.base_url} (temporary database)\n")
        await client.policies.create(action="reports.*", effect="allow", name="reads are fine")
        await client.policies.create(action="db.drop_*", effect="deny", name="never drop")
        say("Policies:  allow reports.*   deny db.drop_*   anything else: ask a human\n")

        timeline: dict[str, float] = {}
        tools = _tools(client, timeline)
        steps: list[tuple[str, dict[str, Any]]] = [
            ("export_report", {"quarter": "Q3"}),
            ("drop_table", {"table": "customers"}),
            ("refund", {"amount": 42, "customer": "ACME", "card": "4242"}),
        ]
        async with anyio.create_task_group() as tg:
            tg.start_soon(_approver, client, decision, timeline)
            for number, (name, kwargs) in enumerate(steps, 1):
                tool = tools[name]
                shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k != "card")
                say(f"{number}. the agent calls {name}({shown})")
                try:
                    result = await tool(**kwargs)
                except ApprovalError as exc:
                    who = _by(exc.approval)
                    say(f"   ✗ {exc.approval.status.value}{who}: {name} did not run\n")
                    continue
                if "decided" in timeline:
                    resumed = (timeline["resumed"] - timeline["decided"]) * 1000
                    say(f"   ✓ {result}")
                    say(f"     the agent resumed {resumed:.1f} ms after you decided\n")
                else:
                    say(f"   ✓ {result} (allowed by policy: it ran at once, nobody was asked)\n")
            tg.cancel_scope.cancel()
        say("Every step is in the tamper-evident event log:")
        async for event in client.events.list(types="approval.*"):
            status = event.data.get("status")
            say(f"   {event.seq:>3}  {event.type:<18} {event.data.get('action')}: {status}")


def _tools(client: AsyncSignoff, timeline: dict[str, float]) -> dict[str, Any]:
    """The agent's three tools, each gated by signoff."""
    import signoff

    @signoff.require_approval("reports.export", summary="Export a report", client=client)
    async def export_report(quarter: str) -> str:
        return f"exported the {quarter} report"

    @signoff.require_approval(
        "db.drop_table", summary=lambda table: f"Drop table {table}", client=client
    )
    async def drop_table(table: str) -> str:  # pragma: no cover - a policy always denies
        return f"dropped {table}"

    @signoff.require_approval(
        "payments.refund",
        summary=lambda amount, customer: f"Refund ${amount} to {customer}",
        redact=["card"],
        timeout=300,
        client=client,
    )
    async def refund(amount: int, customer: str, card: str) -> str:
        timeline["resumed"] = time.perf_counter()
        return f"refunded ${amount} to {customer}"

    return {"export_report": export_report, "drop_table": drop_table, "refund": refund}


async def _approver(client: AsyncSignoff, decision: str | None, timeline: dict[str, float]) -> None:
    """Decide each pending approval: at the prompt, or as the flags say."""
    import anyio

    async with client.events.stream(types="approval.created", after=0) as events:
        async for event in events:
            if event.data.get("status") != "pending":
                continue
            approval = await client.approvals.get(event.subject_id)
            say(f"   … waiting for a human: {approval.summary} ({approval.id})")
            say(f"     arguments sent: {approval.arguments}")
            if decision is None:
                answer = await anyio.to_thread.run_sync(_ask)
            else:
                answer = decision
                say(f"     the approver says: {answer} (--{answer})")
            # The clock starts when the human has decided; it includes sending the decision.
            timeline["decided"] = time.perf_counter()
            await client.approvals.decide(approval.id, answer, comment="from signoff demo")  # type: ignore[arg-type]


def _ask() -> str:
    reply = input("     Approve? [y/N] ").strip().lower()
    return "approve" if reply in ("y", "yes") else "deny"


def _by(approval: Approval) -> str:
    if approval.decided_by and approval.decided_by.startswith("policy:"):
        return " by policy"
    if approval.decided_by:
        return f" by {approval.decided_by}"
    return ""
