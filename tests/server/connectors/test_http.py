"""The ``http`` connector, run by the broker against a real service on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from signoff.server.connectors.http import MAX_BODY

from ..governed import SECRET, add_policy, create_connection, http_config, run_action
from ..helpers import client

pytestmark = pytest.mark.anyio


async def _allowed_run(tenant, config, input, action_type="refund", secrets=None) -> dict:
    async with client(tenant.base_url, tenant.admin_key) as http:
        await add_policy(http, "http.*", "allow")
        connection = await create_connection(http, "http", config=config, secrets=secrets)
        response = await run_action(http, connection["id"], input, action_type)
    assert response.status_code == 201, response.text
    run: dict = response.json()
    return run


async def test_a_json_answer_is_the_result(tenant, target) -> None:
    target.answer(200, {"refund_id": "r_1", "amounts": [1, 2.5]})
    run = await _allowed_run(tenant, http_config(target.url), {"order_id": "o 1/2", "amount": 7})
    (hit,) = target.hits
    assert run["status"] == "succeeded"
    assert run["result"] == {"status_code": 200, "body": {"refund_id": "r_1", "amounts": [1, 2.5]}}
    assert (hit.method, hit.path) == ("POST", "/orders/o%201%2F2/refund")
    assert hit.json() == {"amount": 7}  # the placeholder's field is in the path, not the body
    assert hit.headers["content-type"] == "application/json"
    assert hit.headers["idempotency-key"] == run["id"]


async def test_get_sends_the_input_as_query_parameters(tenant, target) -> None:
    target.answer(200, b"plain words", content_type="text/plain; charset=utf-8")
    config = http_config(
        target.url,
        search={"method": "GET", "path": "/search/{kind}"},
    )
    config["headers"] = {"X-Team": "payments"}
    run = await _allowed_run(
        tenant,
        config,
        {"kind": "..", "q": "a b", "tags": ["x", "y"], "n": 3, "none": None},
        "search",
    )
    (hit,) = target.hits
    assert run["result"] == {"status_code": 200, "body": "plain words"}
    assert hit.path == "/search/%2E%2E"  # never resolved as "the parent directory"
    assert hit.query == [("q", "a b"), ("tags", "x"), ("tags", "y"), ("n", "3")]
    assert hit.body == b""
    assert hit.headers["x-team"] == "payments"


async def test_a_non_2xx_answer_fails_the_run_with_its_status(tenant, target) -> None:
    target.answer(409, {"error": "already refunded"})
    run = await _allowed_run(tenant, http_config(target.url), {"order_id": "o1", "amount": 1})
    assert run["status"] == "failed"
    assert run["result"] is None
    assert run["error"]["type"] == "http_error"
    assert "409" in run["error"]["message"]
    assert run["error"]["details"] == {"status_code": 409, "body": {"error": "already refunded"}}


async def test_a_slow_service_fails_the_run_with_timeout(tenant, target) -> None:
    target.hold()
    config = {**http_config(target.url), "timeout": 0.3}
    run = await _allowed_run(tenant, config, {"order_id": "o1", "amount": 1})
    assert run["status"] == "failed"
    assert run["error"]["type"] == "timeout"
    assert "0.3 s" in run["error"]["message"]


async def test_an_unreachable_service_fails_the_run_with_connection_error(tenant) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = await _allowed_run(
        tenant, http_config(f"http://127.0.0.1:{port}"), {"order_id": "o1", "amount": 1}
    )
    assert run["status"] == "failed"
    assert run["error"]["type"] == "connection_error"


async def test_a_large_body_is_cut_and_marked(tenant, target) -> None:
    target.answer(200, b"x" * (MAX_BODY + 10), content_type="text/plain")
    run = await _allowed_run(tenant, http_config(target.url), {"order_id": "o1", "amount": 1})
    assert run["result"]["truncated"] is True
    assert len(run["result"]["body"]) == MAX_BODY


async def test_secret_headers_reach_the_target_and_nowhere_else(tenant, target) -> None:
    secrets = {"header.X-Api-Key": SECRET}
    target.answer(500, {"debug": {"x-api-key": SECRET}})  # a service echoing its headers
    run = await _allowed_run(
        tenant, http_config(target.url), {"order_id": "o1", "amount": 1}, secrets=secrets
    )
    (hit,) = target.hits
    assert hit.headers["x-api-key"] == SECRET
    assert "authorization" not in hit.headers
    assert run["error"]["details"]["body"] == {"debug": {"x-api-key": "[redacted]"}}
    assert SECRET not in str(run)


async def test_config_headers_never_ride_along_beside_the_secret_or_run_id(tenant, target) -> None:
    config = http_config(target.url)
    config["headers"] = {
        "authorization": "Basic from-the-config",
        "IDEMPOTENCY-KEY": "from-the-config",
        "x-team": "payments",
    }
    run = await _allowed_run(
        tenant,
        config,
        {"order_id": "o1", "amount": 1},
        secrets={"bearer_token": SECRET, "header.X-Team": "from-a-secret"},
    )
    (hit,) = target.hits
    assert run["status"] == "succeeded"
    assert hit.header_values("Authorization") == [f"Bearer {SECRET}"]
    assert hit.header_values("Idempotency-Key") == [run["id"]]
    assert hit.header_values("X-Team") == ["from-a-secret"]
