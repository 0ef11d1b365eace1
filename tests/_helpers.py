"""Small builders shared by the SDK tests."""

from __future__ import annotations

import json
from typing import Any

from signoff._retry import Backoff
from signoff.client import AsyncSignoff

API_KEY = "sgn_test_key_0123456789abcdef_secretsecretsecret"
BASE_URL = "http://broker.test"

APPROVAL = {
    "id": "apr_1",
    "status": "pending",
    "action": "payments.refund",
    "version": 1,
    "created_at": "2026-11-21T10:04:12.123456Z",
    "updated_at": "2026-11-21T10:04:12.123456Z",
}


def approval(**fields: Any) -> dict[str, Any]:
    """An approval body as the broker sends it, with some fields replaced."""
    return {**APPROVAL, **fields}


def error_body(type_: str, message: str, details: Any = None) -> bytes:
    """The broker's error envelope."""
    return json.dumps({"error": {"type": type_, "message": message, "details": details}}).encode()


def make_client(base_url: str = BASE_URL, **options: Any) -> AsyncSignoff:
    """A client whose retries wait milliseconds, not seconds."""
    client = AsyncSignoff(api_key=API_KEY, base_url=base_url, **options)
    client._http.backoff = Backoff(initial=0.001, maximum=0.004)
    return client
