"""``client.connections`` against the real broker: connectors, config, write-only secrets."""

from __future__ import annotations

import pytest

from _actions import REFUND_CONFIG
from _sdk import client_with
from signoff import (
    ActionType,
    AsyncSignoff,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableEntityError,
)

pytestmark = pytest.mark.anyio


async def test_create_keeps_secrets_write_only(client: AsyncSignoff) -> None:
    created = await client.connections.create(
        name="billing",
        connector="http",
        config=REFUND_CONFIG,
        secrets={"bearer_token": "s3cr3t-value"},
    )
    assert created.id.startswith("con_")
    assert (created.name, created.connector) == ("billing", "http")
    assert created.secret_names == ["bearer_token"]
    assert created.config["base_url"] == REFUND_CONFIG["base_url"]
    raw = await client.request("GET", f"/v1/connections/{created.id}")
    assert b"s3cr3t-value" not in raw.content
    assert await client.connections.get(created.id) == created


async def test_list_and_delete(client: AsyncSignoff) -> None:
    first = await client.connections.create(name="one", connector="echo")
    second = await client.connections.create(name="two", connector="echo")
    listed = await client.connections.list(limit=1).collect()
    assert {c.id for c in listed} == {first.id, second.id}
    deleted = await client.connections.delete(first.id)
    assert deleted.id == first.id
    with pytest.raises(NotFoundError):
        await client.connections.get(first.id)
    assert [c.id for c in await client.connections.list().collect()] == [second.id]


async def test_action_types_describe_their_input(client: AsyncSignoff) -> None:
    echo = await client.connections.create(name="echo", connector="echo")
    http = await client.connections.create(name="billing", connector="http", config=REFUND_CONFIG)
    assert [t.name for t in await client.connections.action_types(echo.id).collect()] == ["echo"]
    page = await client.connections.action_types(http.id)
    assert [t.name for t in page.data] == ["refund"]
    refund = await client.connections.action_type(http.id, "refund")
    assert isinstance(refund, ActionType)
    assert refund.input_schema["required"] == ["amount"]
    with pytest.raises(NotFoundError):
        await client.connections.action_type(echo.id, "refund")


async def test_refusals_name_what_is_wrong(client: AsyncSignoff) -> None:
    with pytest.raises(UnprocessableEntityError, match="connector"):
        await client.connections.create(name="x", connector="no-such-connector")
    await client.connections.create(name="taken", connector="echo")
    with pytest.raises(ConflictError):
        await client.connections.create(name="taken", connector="echo")
    with pytest.raises(ValueError, match="name"):
        await client.connections.create(name="", connector="echo")
    with pytest.raises(NotFoundError):
        await client.connections.get("con_unknown")


async def test_an_agent_key_reads_connections_but_cannot_create_them(client: AsyncSignoff) -> None:
    created = await client.connections.create(name="echo", connector="echo")
    async with await client_with(client, "actions:read", "actions:execute") as agent:
        assert (await agent.connections.get(created.id)).name == "echo"
        with pytest.raises(PermissionDeniedError):
            await agent.connections.create(name="mine", connector="echo")
        with pytest.raises(PermissionDeniedError):
            await agent.connections.delete(created.id)
