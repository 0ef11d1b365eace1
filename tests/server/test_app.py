"""The app's envelope: error shapes, request ids, body limits, health and OpenAPI."""

from __future__ import annotations

import anyio
import httpx
import pytest
from openapi_spec_validator import validate

from signoff.server import create_app

from .helpers import assert_error, client

pytestmark = pytest.mark.anyio


async def test_unknown_route_is_404_in_the_contract_shape(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        response = await http.get("/v1/nothing-here")
    assert_error(response, 404, "not_found")


async def test_wrong_method_is_405(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        response = await http.put("/v1/approvals")
    assert_error(response, 405, "method_not_allowed")


async def test_malformed_json_is_400(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        response = await http.post("/v1/approvals", content=b'{"action": ')
    assert_error(response, 400, "invalid_json")


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"action": "ok", "expires_in": 0}, "$.expires_in"),
        ({"action": "ok", "expires_in": "soon"}, "$.expires_in"),
        ({}, "$.action"),
        ({"action": "ok", "surprise": 1}, "$.surprise"),
        ({"action": "has space"}, "$.action"),
        ({"action": "ok", "metadata": {"k": [1]}}, "$.metadata[...]"),
    ],
)
async def test_invalid_body_is_422_naming_the_field(tenant, body, path: str) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        response = await http.post("/v1/approvals", json=body)
    assert assert_error(response, 422, "validation_error")["details"]["path"] == path


async def test_body_over_the_limit_is_413(start_broker) -> None:
    from conftest import new_tenant

    info = new_tenant(start_broker(max_body_size=1000))
    async with client(info.base_url, info.admin_key) as http:
        declared = await http.post(
            "/v1/approvals", json={"action": "a", "summary": "x" * 900, "reason": "y" * 200}
        )

        async def chunks():
            yield b'{"action": "a", "summary": "'
            yield b"x" * 2000
            yield b'"}'

        streamed = await http.post("/v1/approvals", content=chunks())  # no Content-Length
        fine = await http.post("/v1/approvals", json={"action": "a", "summary": "x" * 100})
    assert_error(declared, 413, "payload_too_large")
    assert_error(streamed, 413, "payload_too_large")
    assert fine.status_code == 201


async def test_request_id_is_echoed_when_sane_and_replaced_when_not(tenant) -> None:
    async with client(tenant.base_url, tenant.admin_key) as http:
        echoed = await http.get("/healthz", headers={"X-Request-Id": "trace-42.a:b"})
        replaced = await http.get("/healthz", headers={"X-Request-Id": "bad id!"})
        own = await http.get("/v1/approvals")
    assert echoed.headers["x-request-id"] == "trace-42.a:b"
    assert replaced.headers["x-request-id"].startswith("req_")
    assert own.headers["x-request-id"].startswith("req_")


async def test_healthz_needs_no_key(tenant) -> None:
    async with client(tenant.base_url, None) as http:
        response = await http.get("/healthz")
    assert response.json() == {"status": "ok"}


async def test_healthz_is_503_when_the_store_does_not_answer(broker, monkeypatch) -> None:
    import sqlite3

    reads: list[str] = []

    async def broken() -> int:
        reads.append("schema_version")
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(broker.store, "schema_version", broken)
    async with client(broker.base_url, None) as http:
        response = await http.get("/healthz")
    error = assert_error(response, 503, "unavailable")
    assert "OperationalError" in error["message"]
    assert reads == ["schema_version"]


async def test_an_unexpected_error_is_500_in_the_contract_shape() -> None:
    app = create_app()

    async def boom(request):
        raise RuntimeError("bug")

    from starlette.routing import Route

    app.router.routes.append(Route("/boom", boom))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        response = await http.get("/boom")
    error = assert_error(response, 500, "internal_error")
    assert response.headers["x-request-id"] in error["message"]


async def test_one_log_line_per_request_without_secrets(tenant, caplog) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="signoff.server")
    async with client(tenant.base_url, tenant.admin_key) as http:
        response = await http.get("/v1/approvals?cursor=secret-cursor")
    request_id = response.headers["x-request-id"]

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "signoff.server"]

    # The line is written as the response finishes, in the broker's thread: wait for it.
    with anyio.fail_after(5):
        while not any(request_id in line for line in lines()):
            await anyio.sleep(0.005)
    matching = [line for line in lines() if request_id in line]
    assert len(matching) == 1
    line = matching[0]
    assert line.startswith("GET /v1/approvals 400 ")
    assert "key=key_" in line
    assert "secret-cursor" not in line
    assert tenant.admin_key not in line
    assert tenant.admin_key.rsplit("_", 1)[1] not in " ".join(lines())


async def test_openapi_is_valid_and_lists_every_route(tenant) -> None:
    async with client(tenant.base_url, None) as http:
        response = await http.get("/openapi.json")
    document = response.json()
    validate(document)
    app = create_app()
    routes = {
        (route.path, method.lower())
        for route in app.routes
        for method in (route.methods or ())  # type: ignore[attr-defined]
        if method != "HEAD"
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == routes
    assert "$defs" not in response.text
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert "500" in operation["responses"], (path, method)
    stream = document["paths"]["/v1/events/stream"]["get"]["responses"]["200"]["content"]
    assert "text/event-stream" in stream
    create = document["paths"]["/v1/approvals"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ApprovalCreate"
    }
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
