"""``client.connections``: bind connectors to their config and secrets; list what they can do."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import ActionType, Connection, ConnectionCreate, JSONObject
from ._base import Resource, build_body, page_limit, path_id

if TYPE_CHECKING:
    from .._pagination import AsyncPaginator

__all__ = ["Connections"]


class Connections(Resource):
    """Connections: a connector (``echo``, ``http``, a plugin) with config and secrets that
    agents use without ever seeing the secrets."""

    async def create(
        self,
        *,
        name: str,
        connector: str,
        config: JSONObject | None = None,
        secrets: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Connection:
        """Add a connection (admin scope). ``name`` is unique within the tenant.

        ``secrets`` are write-only: the broker stores them and answers with their names
        (``secret_names``) only, here and everywhere else.
        """
        body = build_body(
            ConnectionCreate,
            {"name": name, "connector": connector, "config": config, "secrets": secrets},
        )
        return await self._client._post(
            "/v1/connections", cast_to=Connection, body=body, idempotency_key=idempotency_key
        )

    def list(self, *, limit: int | None = None) -> AsyncPaginator[Connection]:
        """Every connection of the tenant; ``limit`` is the page size (1-200)."""
        params = {"limit": page_limit(limit, 200)}
        return self._client._paginate("/v1/connections", item_type=Connection, params=params)

    async def get(self, connection_id: str) -> Connection:
        """Read one connection (its secrets' names, never their values)."""
        return await self._client._get(
            f"/v1/connections/{path_id(connection_id, 'connection_id')}", cast_to=Connection
        )

    async def delete(self, connection_id: str) -> Connection:
        """Remove a connection (admin scope); returns it as it was. Its runs remain."""
        return await self._client._delete(
            f"/v1/connections/{path_id(connection_id, 'connection_id')}", cast_to=Connection
        )

    def action_types(
        self, connection_id: str, *, limit: int | None = None
    ) -> AsyncPaginator[ActionType]:
        """What the connection can do, each with the JSON Schema its ``input`` must satisfy.

        A paginator like every list (``await`` it for the first page, ``async for`` over all,
        ``.collect()`` for a list); connectors rarely have more than one page.
        """
        quoted = path_id(connection_id, "connection_id")
        return self._client._paginate(
            f"/v1/connections/{quoted}/action-types",
            item_type=ActionType,
            params={"limit": page_limit(limit, 200)},
        )

    async def action_type(self, connection_id: str, name: str) -> ActionType:
        """One action type of the connection, by name (``"echo"``, ``"refund"``)."""
        quoted = path_id(connection_id, "connection_id")
        return await self._client._get(
            f"/v1/connections/{quoted}/action-types/{path_id(name, 'name')}",
            cast_to=ActionType,
        )
