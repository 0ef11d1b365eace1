"""Helpers for SDK tests that run against the real broker."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, Literal

import anyio

from signoff import AsyncSignoff, ConflictError


async def key_with(client: AsyncSignoff, *scopes: str) -> str:
    """A new API key of the client's tenant that holds just ``scopes``."""
    scope_list: list[Any] = list(scopes)
    created = await client.api_keys.create(name="test-" + "-".join(scopes), scopes=scope_list)
    return created.key


async def client_with(client: AsyncSignoff, *scopes: str) -> AsyncSignoff:
    """A client on the same broker and tenant whose key holds just ``scopes`` (close it)."""
    return AsyncSignoff(await key_with(client, *scopes), client.base_url)


@contextlib.asynccontextmanager
async def deciding(
    client: AsyncSignoff,
    decision: Literal["approve", "deny", "cancel"],
    *,
    comment: str | None = None,
) -> AsyncIterator[list[str]]:
    """While the block runs, decide every pending approval the tenant creates.

    Reads the tenant's event log from its start, so an approval created before the reader
    connects is decided too. Yields the ids decided so far.
    """
    decided: list[str] = []

    async def decide_all() -> None:
        async with client.events.stream(types="approval.created", after=0) as events:
            async for event in events:
                if event.data["status"] != "pending":
                    continue
                # Recorded before the call: the waiter may see the decision (and end this
                # block, cancelling us) before the call's own response is back.
                decided.append(event.subject_id)
                try:
                    if decision == "cancel":
                        await client.approvals.cancel(event.subject_id, comment=comment)
                    else:
                        await client.approvals.decide(event.subject_id, decision, comment=comment)
                except ConflictError:
                    decided.remove(event.subject_id)  # settled before we got to it

    async with anyio.create_task_group() as tg:
        tg.start_soon(decide_all)
        yield decided
        tg.cancel_scope.cancel()
