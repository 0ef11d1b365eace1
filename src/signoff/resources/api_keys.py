"""``client.api_keys``: mint, list and revoke the tenant's API keys (admin scope)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from ..errors import RequestValidationError
from ..models import ApiKey, ApiKeyCreate, ApiKeyCreated, Scope
from ._base import Resource, build_body, path_id

if TYPE_CHECKING:
    from .._pagination import AsyncPaginator

__all__ = ["ApiKeys"]


class ApiKeys(Resource):
    """API keys: each belongs to one tenant and holds a set of scopes."""

    async def create(
        self,
        *,
        name: str,
        scopes: Sequence[Scope],
        expires_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> ApiKeyCreated:
        """Mint a key. Its secret is ``.key`` on the result, shown this once and never again.

        Give agents ``approvals:write`` and ``approvals:read``; keep ``approvals:decide`` for
        the people (or tools) who decide.
        """
        if isinstance(scopes, str):
            raise TypeError("scopes must be a list of scope names, not a single string")
        if expires_at is not None and expires_at.tzinfo is None:
            raise RequestValidationError(
                "expires_at must be timezone-aware (e.g. datetime.now(UTC) + ...)"
            )
        body = build_body(
            ApiKeyCreate, {"name": name, "scopes": list(scopes), "expires_at": expires_at}
        )
        return await self._client._post(
            "/v1/api-keys", cast_to=ApiKeyCreated, body=body, idempotency_key=idempotency_key
        )

    def list(self, *, limit: int | None = None) -> AsyncPaginator[ApiKey]:
        """Every key of the tenant, revoked ones included (without their secrets)."""
        return self._client._paginate("/v1/api-keys", item_type=ApiKey, params={"limit": limit})

    async def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key; it stops working at once."""
        return await self._client._delete(
            f"/v1/api-keys/{path_id(key_id, 'key_id')}", cast_to=ApiKey
        )
