"""``/v1/connections`` over real HTTP: create (validation by the connector), read, list, delete,
action types, write-only secrets, isolation and scopes."""

from __future__ import annotations

import logging

import anyio
import pytest

from ..governed import SECRET, add_policy, create_connection, http_config, run_action
from ..helpers import assert_error, client, mint_key

pytestmark = pytest.mark.anyio


async def test_create_returns_the_connection_with_secret_names_only(tenant, target) -> None:
    config = http_config(target.url)
    async with client(tenant.base_url, tenant.admin_key) as http:
        response = await http.post(
            "/v1/connections",
            json={
                "name": "payments",
                "connector": "http",
                "config": config,
                "secrets": {"bearer_token": SECRET, "header.X-Api-Key": SECRET + "-2"},
            },
        )
        got = await http.get(f"/v1/connections/{response.json()['id']}")
    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("con_")
    assert (body["name"], body["connector"], body["config"]) == ("payments", "http", config)
    assert body["secret_names"] == ["bearer_token", "header.X-Api-Key"]
    assert SECRET not in response.text
    assert got.json() == body


async def test_secrets_never_leave_the_broker(broker, tenant, target, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="signoff.server")
    # The target echoes a secret back: it must be scrubbed from the result as well.
    target.answer(200, {"echo": f"Bearer {SECRET}"})
    async with client(tenant.base_url, tenant.admin_key) as http:
        await add_policy(http, "http.*", "allow")
        connection = await create_connection(
            http, "http", config=http_config(target.url), secrets={"bearer_token": SECRET}
        )
        run = await run_action(http, connection["id"], {"order_id": "o1", "amount": 1}, "refund")
        texts = [
            run.text,
            (await http.get(f"/v1/connections/{connection['id']}")).text,
            (await http.get("/v1/connections")).text,
            (await http.get("/v1/events")).text,
            (await http.get("/v1/audit")).text,
            (await http.get(f"/v1/actions/{run.json()['id']}/evidence")).text,
            (await http.delete(f"/v1/connections/{connection['id']}")).text,
        ]
    assert target.hits[0].headers["authorization"] == f"Bearer {SECRET}"
    assert run.json()["result"]["body"] == {"echo": "Bearer [redacted]"}
    assert not [text for text in texts if SECRET in text]

    def logged() -> str:
        return "\n".join(record.getMessage() for record in caplog.records)

    # The request lines are written as responses finish (in the broker's thread).
    with anyio.fail_after(5):
        while "DELETE /v1/connections/" not in logged():
            await anyio.sleep(0.005)
    assert SECRET not in logged()


@pytest.mark.parametrize(
    ("connector", "config", "secrets", "path"),
    [
        ("nope", {}, {}, "$.connector"),
        ("http", {"action_types": {}}, {}, "$.config.base_url"),
        ("http", {"base_url": "ftp://x", "action_types": {}}, {}, "$.config.base_url"),
        (
            "http",
            {"base_url": "http://x", "timeout": 30, "action_types": {}},
            {},
            "$.config.timeout",
        ),
        ("http", {"base_url": "http://x", "action_types": {}}, {}, "$.config.action_types"),
        (
            "http",
            {"base_url": "http://x", "action_types": {"a": {"method": "FETCH", "path": "/"}}},
            {},
            "$.config.action_types.a.method",
        ),
        (
            "http",
            {
                "base_url": "http://x",
                "action_types": {
                    "a": {"method": "GET", "path": "/{id}", "input_schema": {"type": "object"}}
                },
            },
            {},
            "$.config.action_types.a.input_schema",
        ),
        (
            "http",
            {
                "base_url": "http://x",
                "action_types": {"a": {"method": "GET", "path": "/", "input_schema": {"type": 5}}},
            },
            {},
            "$.config.action_types.a.input_schema",
        ),
        (
            "http",
            {"base_url": "http://x", "action_types": {"a": {"method": "GET", "path": "/"}}},
            {"password": SECRET},
            "$.secrets.password",
        ),
        (
            "http",
            {"base_url": "http://x", "action_types": {"a": {"method": "GET", "path": "/"}}},
            {"bearer_token": "a\r\nX-Injected: 1"},
            "$.secrets.bearer_token",
        ),
        ("echo", {}, {"bearer_token": 5}, "$.secrets[...]"),  # msgspec names dict values so
    ],
)
async def test_a_config_the_connector_rejects_is_422_naming_the_field(
    tenant, connector, config, secrets, path
) -> None:
    body = {"name": "c", "connector": connector, "config": config, "secrets": secrets}
    async with client(tenant.base_url, tenant.admin_key) as http:
        response = await http.post("/v1/connections", json=body)
        listed = (await http.get("/v1/connections")).json()["data"]
    error = assert_error(response, 422, "validation_error")
    assert error["details"]["path"] == path
    assert SECRET not in response.text
    assert "X-Injected" not in response.text
    assert listed == []


async def test_an_unknown_connector_lists_the_available_ones(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        response = await http.post("/v1/connections", json={"name": "c", "connector": "smtp"})
    message = assert_error(response, 422, "validation_error")["message"]
    assert "'smtp'" in message
    assert "echo, http" in message


async def test_names_are_unique_among_live_connections(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        first = await create_connection(http, name="dup")
        again = await http.post("/v1/connections", json={"name": "dup", "connector": "echo"})
        await http.delete(f"/v1/connections/{first['id']}")
        reused = await http.post("/v1/connections", json={"name": "dup", "connector": "echo"})
    assert_error(again, 409, "conflict")
    assert reused.status_code == 201


async def test_list_pages_oldest_first_without_deleted_ones(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        made = [await create_connection(http) for _ in range(3)]
        deleted = await http.delete(f"/v1/connections/{made[1]['id']}")
        first = (await http.get("/v1/connections?limit=1")).json()
        second = (await http.get(f"/v1/connections?cursor={first['next_cursor']}")).json()
        gone = await http.get(f"/v1/connections/{made[1]['id']}")
        again = await http.delete(f"/v1/connections/{made[1]['id']}")
        events = (await http.get("/v1/events?types=connection.*")).json()["data"]
    assert deleted.json() == made[1]
    assert [c["id"] for c in first["data"]] == [made[0]["id"]]
    assert [c["id"] for c in second["data"]] == [made[2]["id"]]
    assert second["next_cursor"] is None
    assert_error(gone, 404, "not_found")
    assert_error(again, 404, "not_found")
    assert [e["type"] for e in events] == ["connection.created"] * 3 + ["connection.deleted"]
    assert events[-1]["data"] == made[1]


async def test_action_types_carry_their_input_schema(tenant, target) -> None:
    config = http_config(
        target.url,
        lookup={"method": "GET", "path": "/orders/{order_id}", "description": "Read an order"},
        refund={"method": "POST", "path": "/refunds"},
    )
    async with client(tenant.base_url, tenant.admin_key) as http:
        connection = await create_connection(http, "http", config=config)
        base = f"/v1/connections/{connection['id']}/action-types"
        listed = (await http.get(base)).json()
        one = (await http.get(f"{base}/lookup")).json()
        missing = await http.get(f"{base}/nope")
        echo = await create_connection(http)
        echo_types = (await http.get(f"/v1/connections/{echo['id']}/action-types")).json()
    assert [t["name"] for t in listed["data"]] == ["lookup", "refund"]
    assert listed["next_cursor"] is None
    assert one == {
        "name": "lookup",
        "description": "Read an order",
        "input_schema": {"type": "object", "required": ["order_id"]},
    }
    assert_error(missing, 404, "not_found")
    assert echo_types["data"] == [
        {
            "name": "echo",
            "input_schema": {"type": "object"},
            "description": "Returns its input unchanged.",
        }
    ]


async def test_connections_are_invisible_to_another_tenant(tenant, other_tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        connection = await create_connection(http)
    async with client(other_tenant.base_url, other_tenant.admin_key) as theirs:
        responses = [
            await theirs.get(f"/v1/connections/{connection['id']}"),
            await theirs.get(f"/v1/connections/{connection['id']}/action-types"),
            await theirs.get(f"/v1/connections/{connection['id']}/action-types/echo"),
            await theirs.delete(f"/v1/connections/{connection['id']}"),
        ]
        listed = (await theirs.get("/v1/connections")).json()["data"]
    for response in responses:
        assert_error(response, 404, "not_found")
    assert listed == []


async def test_reading_needs_actions_read_and_writing_admin(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as admin:
        connection = await create_connection(admin)
        reader = await mint_key(admin, "actions:read")
        executor = await mint_key(admin, "actions:execute")
    async with client(tenant.base_url, reader) as http:
        read = await http.get(f"/v1/connections/{connection['id']}")
        types = await http.get(f"/v1/connections/{connection['id']}/action-types")
        create = await http.post("/v1/connections", json={"name": "x", "connector": "echo"})
        delete = await http.delete(f"/v1/connections/{connection['id']}")
    async with client(tenant.base_url, executor) as http:
        listed = await http.get("/v1/connections")
    assert (read.status_code, types.status_code) == (200, 200)
    for response in (create, delete, listed):
        assert_error(response, 403, "insufficient_scope")


async def test_create_is_idempotent_with_a_key(tenant) -> None:
    body = {"name": "once", "connector": "echo"}
    headers = {"Idempotency-Key": "connection-1"}
    async with client(tenant.base_url, tenant.admin_key) as http:
        first = await http.post("/v1/connections", json=body, headers=headers)
        again = await http.post("/v1/connections", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
