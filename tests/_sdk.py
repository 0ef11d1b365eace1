"""Helpers for SDK tests that run against the real broker."""

from __future__ import annotations

from typing import Any

from signoff import AsyncSignoff


async def key_with(client: AsyncSignoff, *scopes: str) -> str:
    """A new API key of the client's tenant that holds just ``scopes``."""
    scope_list: list[Any] = list(scopes)
    created = await client.api_keys.create(name="test-" + "-".join(scopes), scopes=scope_list)
    return created.key


async def client_with(client: AsyncSignoff, *scopes: str) -> AsyncSignoff:
    """A client on the same broker and tenant whose key holds just ``scopes`` (close it)."""
    return AsyncSignoff(await key_with(client, *scopes), client.base_url)
