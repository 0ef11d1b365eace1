"""The ``http`` connector's config and secrets: checking them (every error names its field)
and reading them into the `Endpoint` each action type calls.

Config: ``{"base_url", "timeout" (seconds, default 10, at most 25), "headers" (non-secret),
"action_types": {"<name>": {"method", "path", "input_schema", "description"}}}``.
Secrets: ``bearer_token`` (sent as ``Authorization: Bearer ...``) and ``header.<Name>`` (sent
as header ``<Name>``). Messages never contain a secret's value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ...models import ActionType
from ..schemas import schema_error
from .base import ConnectorConfigError

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_TIMEOUT",
    "METHODS",
    "Endpoint",
    "validate_config",
    "validate_secrets",
    "endpoint",
    "action_types",
    "secret_headers",
    "PLACEHOLDER",
]

DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 25.0
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
#: ``{field}`` in a path: filled from the input field of that name.
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$")  # an HTTP header name
_TYPE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,99}$")
_CONFIG_KEYS = frozenset({"base_url", "timeout", "headers", "action_types"})
_TYPE_KEYS = frozenset({"method", "path", "input_schema", "description"})


@dataclass(frozen=True)
class Endpoint:
    """What one action type calls: ``method`` on ``base_url + path``."""

    base_url: str
    method: str
    path: str
    timeout: float
    headers: dict[str, str]


def _fail(path: str, message: str) -> ConnectorConfigError:
    return ConnectorConfigError(path, message)


def _header_value_ok(value: str) -> bool:
    return "\r" not in value and "\n" not in value and "\0" not in value


def _check_headers(headers: Any) -> None:
    if not isinstance(headers, dict):
        raise _fail("$.config.headers", "must be an object of header name -> string value")
    for name, value in headers.items():
        where = f"$.config.headers.{name}"
        if not _TOKEN.match(name):
            raise _fail(where, "is not a valid HTTP header name")
        if not isinstance(value, str) or not _header_value_ok(value):
            raise _fail(where, "must be a string without line breaks")


def _check_action_type(name: str, spec: Any) -> None:
    where = f"$.config.action_types.{name}"
    if not _TYPE_NAME.match(name):
        raise _fail(where, "an action type name is letters, digits and '_.:/-' (1-100)")
    if not isinstance(spec, dict):
        raise _fail(where, "must be an object {method, path, input_schema?, description?}")
    unknown = sorted(set(spec) - _TYPE_KEYS)
    if unknown:
        raise _fail(f"{where}.{unknown[0]}", f"unknown field; expected {sorted(_TYPE_KEYS)}")
    method = spec.get("method")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise _fail(f"{where}.method", f"must be one of {', '.join(sorted(METHODS))}")
    path = spec.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise _fail(f"{where}.path", "must be a string starting with '/'")
    unfilled = PLACEHOLDER.sub("", path)
    if "{" in unfilled or "}" in unfilled:
        raise _fail(f"{where}.path", "placeholders are {name}, a letter or '_' then letters/digits")
    fields = PLACEHOLDER.findall(path)
    schema = spec.get("input_schema")
    if schema is not None:
        if not isinstance(schema, dict):
            raise _fail(f"{where}.input_schema", "must be a JSON Schema object")
        problem = schema_error(schema)
        if problem is not None:
            raise _fail(f"{where}.input_schema", f"is not a valid JSON Schema: {problem}")
        required = schema.get("required", [])
        missing = [f for f in fields if not isinstance(required, list) or f not in required]
        if missing:
            raise _fail(
                f"{where}.input_schema",
                f"the path placeholder {{{missing[0]}}} must be a required property",
            )
    description = spec.get("description")
    if description is not None and not isinstance(description, str):
        raise _fail(f"{where}.description", "must be a string")


def validate_config(config: Mapping[str, Any]) -> None:
    """Check an ``http`` connection's config; `ConnectorConfigError` names the field."""
    unknown = sorted(set(config) - _CONFIG_KEYS)
    if unknown:
        raise _fail(f"$.config.{unknown[0]}", f"unknown field; expected {sorted(_CONFIG_KEYS)}")
    base_url = config.get("base_url")
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise _fail("$.config.base_url", "must be an http:// or https:// URL")
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL:
        raise _fail("$.config.base_url", "is not a valid URL") from None
    if not url.host or url.query or url.fragment:
        raise _fail("$.config.base_url", "must name a host, without a query or fragment")
    timeout = config.get("timeout", DEFAULT_TIMEOUT)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout <= MAX_TIMEOUT
    ):
        raise _fail(
            "$.config.timeout", f"must be a number of seconds above 0, at most {MAX_TIMEOUT:g}"
        )
    _check_headers(config.get("headers", {}))
    types = config.get("action_types")
    if not isinstance(types, dict) or not types:
        raise _fail("$.config.action_types", "must be an object with at least one action type")
    for name, spec in types.items():
        _check_action_type(name, spec)


def validate_secrets(secrets: Mapping[str, str]) -> None:
    """Check the secrets' names (and that values can be sent as headers)."""
    for name, value in secrets.items():
        where = f"$.secrets.{name}"
        header = name.removeprefix("header.")
        if name != "bearer_token" and (header == name or not _TOKEN.match(header)):
            raise _fail(where, "secrets are 'bearer_token' or 'header.<Header-Name>'")
        if not value or not _header_value_ok(value):
            raise _fail(where, "must be a non-empty string without line breaks")


def action_types(config: Mapping[str, Any]) -> list[ActionType]:
    """The config's action types; a path's placeholders are required input properties."""
    found = []
    for name, spec in config["action_types"].items():
        schema = spec.get("input_schema")
        if schema is None:
            schema = {"type": "object"}
            fields = PLACEHOLDER.findall(spec["path"])
            if fields:
                schema["required"] = list(dict.fromkeys(fields))
        found.append(
            ActionType(name=name, input_schema=schema, description=spec.get("description"))
        )
    return found


def endpoint(config: Mapping[str, Any], action_type: str) -> Endpoint:
    """Where an action type of a validated config sends its request."""
    spec = config["action_types"][action_type]
    return Endpoint(
        base_url=str(config["base_url"]).rstrip("/"),
        method=str(spec["method"]).upper(),
        path=spec["path"],
        timeout=float(config.get("timeout", DEFAULT_TIMEOUT)),
        headers=dict(config.get("headers", {})),
    )


def secret_headers(secrets: Mapping[str, str]) -> dict[str, str]:
    """The headers the secrets become."""
    headers = {}
    for name, value in secrets.items():
        if name == "bearer_token":
            headers["Authorization"] = f"Bearer {value}"
        elif name.startswith("header."):
            headers[name.removeprefix("header.")] = value
    return headers
