"""Creating tenants and their admin keys (the CLI, `BrokerThread` and first start use these)."""

from __future__ import annotations

from .auth import mint_key
from .store.base import DuplicateName, Store

__all__ = ["DEFAULT_TENANT", "create_tenant", "bootstrap", "ensure_admin_key", "mint_admin_key"]

#: The tenant a fresh database gets.
DEFAULT_TENANT = "default"
_ACTOR = "system"


async def mint_admin_key(store: Store, tenant_id: str, *, name: str, pepper: str | None) -> str:
    """Create an ``admin`` key for a tenant and return its token (shown this once)."""
    minted = mint_key(name, ("admin",), pepper=pepper)
    await store.create_api_key(tenant_id, minted.record, actor=_ACTOR)
    return minted.token


async def create_tenant(
    store: Store, name: str, *, pepper: str | None, key_name: str = "admin"
) -> tuple[str, str]:
    """A new tenant and its first admin key, written together: (tenant id, key token).

    One transaction, so a crash can never leave a tenant that nobody holds a key to (and
    that `bootstrap`, seeing the tenant, would never offer a key for again).
    """
    minted = mint_key(key_name, ("admin",), pepper=pepper)
    tenant = await store.create_tenant(name, first_key=minted.record)
    return tenant.id, minted.token


async def bootstrap(store: Store, *, pepper: str | None) -> str | None:
    """On an empty database, create the default tenant and return its admin key; else None."""
    if await store.get_tenant_by_name(DEFAULT_TENANT) is not None:
        return None
    try:
        _, token = await create_tenant(store, DEFAULT_TENANT, pepper=pepper)
    except DuplicateName:  # another process bootstrapped it first
        return None
    return token


async def ensure_admin_key(store: Store, *, name: str, pepper: str | None) -> str:
    """A new admin key for the default tenant (created if missing), e.g. for an embedded broker
    on an existing database whose first key nobody kept."""
    tenant = await store.get_tenant_by_name(DEFAULT_TENANT)
    if tenant is None:
        try:
            _, token = await create_tenant(store, DEFAULT_TENANT, pepper=pepper, key_name=name)
        except DuplicateName:  # created meanwhile: add a key to it below
            tenant = await store.get_tenant_by_name(DEFAULT_TENANT)
            assert tenant is not None
        else:
            return token
    return await mint_admin_key(store, tenant.id, name=name, pepper=pepper)
