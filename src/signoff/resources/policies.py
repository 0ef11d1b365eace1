"""``client.policies``: rules that allow, deny or require a human before anyone is asked."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from ..models import MetadataValue, Policy, PolicyCreate
from ._base import Resource, build_body, path_id, to_seconds

if TYPE_CHECKING:
    from .._pagination import AsyncPaginator

__all__ = ["Policies"]


class Policies(Resource):
    """Policies (admin scope): matched by action glob and metadata, highest priority first."""

    async def create(
        self,
        *,
        action: str,
        effect: Literal["allow", "deny", "require_approval"],
        priority: int = 0,
        metadata: dict[str, MetadataValue] | None = None,
        expires_in: float | timedelta | None = None,
        approver_group: str | None = None,
        name: str | None = None,
        idempotency_key: str | None = None,
    ) -> Policy:
        """Add a rule: ``action`` is a glob (``"payments.*"``), ``metadata`` exact-match conditions.

        ``expires_in`` sets how long approvals this rule requires stay open.
        """
        body = build_body(
            PolicyCreate,
            {
                "action": action,
                "effect": effect,
                "priority": priority,
                "metadata": metadata,
                "expires_in": to_seconds(expires_in, "expires_in"),
                "approver_group": approver_group,
                "name": name,
            },
        )
        return await self._client._post(
            "/v1/policies", cast_to=Policy, body=body, idempotency_key=idempotency_key
        )

    def list(self, *, limit: int | None = None) -> AsyncPaginator[Policy]:
        """Every rule, in the order they are tried."""
        return self._client._paginate("/v1/policies", item_type=Policy, params={"limit": limit})

    async def delete(self, policy_id: str) -> Policy:
        """Remove a rule; returns it as it was."""
        return await self._client._delete(
            f"/v1/policies/{path_id(policy_id, 'policy_id')}", cast_to=Policy
        )
