"""Helpers for SDK tests of governed actions against the real broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from signoff import AsyncSignoff, Connection

#: An http connection whose ``refund`` action needs an integer ``amount`` (never run here:
#: the tests only need the broker to refuse bad input).
REFUND_CONFIG = {
    "base_url": "http://127.0.0.1:9",
    "action_types": {
        "refund": {
            "method": "POST",
            "path": "/refunds",
            "input_schema": {
                "type": "object",
                "properties": {"amount": {"type": "integer"}},
                "required": ["amount"],
            },
        }
    },
}


async def echo_connection(client: AsyncSignoff, *, allow: bool = True) -> Connection:
    """An ``echo`` connection; with ``allow``, a policy that lets every echo run at once."""
    connection = await client.connections.create(name="echo", connector="echo")
    if allow:
        await client.policies.create(action="echo.*", effect="allow")
    return connection


def echo(connection: Connection, n: int, **changes: Any) -> dict[str, Any]:
    """One echo item for ``execute_many``, numbered in its input."""
    return {"connection_id": connection.id, "action_type": "echo", "input": {"n": n}, **changes}


class CountingTransport(httpx.AsyncBaseTransport):
    """Passes requests on, counting those in flight (and the most ever at once)."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.requests += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await self._inner.handle_async_request(request)
            await response.aread()  # the body is part of the request's time in flight
            return response
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        await self._inner.aclose()


@asynccontextmanager
async def counted_client(
    client: AsyncSignoff, **options: Any
) -> AsyncIterator[tuple[AsyncSignoff, CountingTransport]]:
    """A client on the same broker and key whose requests are counted."""
    transport = CountingTransport()
    key = client._http._headers["Authorization"].removeprefix("Bearer ")
    async with (
        httpx.AsyncClient(transport=transport) as http,
        AsyncSignoff(key, client.base_url, http_client=http, **options) as counted,
    ):
        yield counted, transport
