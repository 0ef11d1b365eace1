"""API keys and scopes."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

import msgspec

from ._base import Model, RequestModel, Timestamp

__all__ = ["Scope", "ALL_SCOPES", "ApiKey", "ApiKeyCreate", "ApiKeyCreated"]

#: What a key may do. ``admin`` holds every scope. Agents should never hold
#: ``approvals:decide``: the point of a sign-off is that someone else gives it.
Scope = Literal[
    "approvals:read",
    "approvals:write",
    "approvals:decide",
    "actions:read",
    "actions:execute",
    "tasks:read",
    "tasks:write",
    "tasks:review",
    "audit:read",
    "admin",
]
ALL_SCOPES: tuple[str, ...] = get_args(Scope)


class ApiKey(Model):
    """An API key as listed: everything but the secret, which is shown once at creation."""

    id: str
    name: str
    scopes: list[str]
    created_at: Timestamp
    prefix: str | None = None
    expires_at: Timestamp | None = None
    last_used_at: Timestamp | None = None
    revoked_at: Timestamp | None = None
    created_by: str | None = None


class ApiKeyCreated(ApiKey, kw_only=True):
    """The response to creating a key: ``key`` is the secret, returned this once only."""

    key: str

    def __repr__(self) -> str:
        # Keeps the secret out of logs and tracebacks that print the object.
        return (
            f"ApiKeyCreated(id={self.id!r}, name={self.name!r}, scopes={self.scopes!r}, key='***')"
        )


class ApiKeyCreate(RequestModel):
    """Body of ``POST /v1/api-keys``."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1)]
    expires_at: Timestamp | None = None
