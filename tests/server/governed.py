"""Helpers for governed-execution tests: connections, policies and action requests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

#: The secret the http-connector tests use; it must never come back out of the broker.
SECRET = "s3cr3t-token-7f1d2c9a"


async def create_connection(
    http: httpx.AsyncClient,
    connector: str = "echo",
    *,
    name: str | None = None,
    config: dict[str, Any] | None = None,
    secrets: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Create a connection (``http`` holds an admin key) and return its JSON."""
    body: dict[str, Any] = {"name": name or f"con-{uuid.uuid4().hex[:8]}", "connector": connector}
    if config is not None:
        body["config"] = config
    if secrets is not None:
        body["secrets"] = secrets
    response = await http.post("/v1/connections", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def http_config(base_url: str, **action_types: dict[str, Any]) -> dict[str, Any]:
    """An ``http`` connection config; by default one action type, ``refund``."""
    types = action_types or {
        "refund": {
            "method": "POST",
            "path": "/orders/{order_id}/refund",
            "input_schema": {
                "type": "object",
                "properties": {
                    "order_id": {"type": "string"},
                    "amount": {"type": "integer", "minimum": 1},
                },
                "required": ["order_id", "amount"],
            },
        }
    }
    return {"base_url": base_url, "timeout": 5, "action_types": types}


async def add_policy(
    http: httpx.AsyncClient, action: str, effect: str, **extra: Any
) -> dict[str, Any]:
    """Add a policy rule and return its JSON."""
    response = await http.post("/v1/policies", json={"action": action, "effect": effect, **extra})
    assert response.status_code == 201, response.text
    policy: dict[str, Any] = response.json()
    return policy


async def run_action(
    http: httpx.AsyncClient,
    connection_id: str,
    input: dict[str, Any],
    action_type: str = "echo",
    **extra: Any,
) -> httpx.Response:
    """``POST /v1/actions``; extra keywords go to httpx (``headers=``) or the body (others)."""
    headers = extra.pop("headers", None)
    body = {"connection_id": connection_id, "action_type": action_type, "input": input, **extra}
    return await http.post("/v1/actions", json=body, headers=headers)
