"""The OpenAPI 3.1 document, generated from the route table and the wire Structs.

Schemas come from ``msgspec.json.schema_components`` with ``#/components/schemas/`` refs
(msgspec's default ``#/$defs/`` refs cannot be resolved by OpenAPI tools).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from .. import __version__
from ..models import ErrorBody
from .operation import Operation

__all__ = ["build_openapi"]

_REF = "#/components/schemas/{name}"
_ERRORS = {
    400: "Malformed request (invalid_json, invalid_request)",
    401: "No API key, or an unknown, expired or revoked one (unauthorized)",
    403: "The key lacks the scope (insufficient_scope)",
    404: "Unknown, or another tenant's (not_found)",
    405: "Known route, wrong method (method_not_allowed)",
    409: "State conflict (approval_not_pending, idempotency_request_in_progress)",
    410: "Event cursor outside the replayable log (cursor_expired)",
    413: "Body over the limit (payload_too_large)",
    422: "Body failed validation (validation_error, idempotency_key_reused)",
    429: "Rate limited (rate_limited, too_many_streams); see Retry-After",
    500: "A bug; the request id is in the log (internal_error)",
    503: "The broker's store does not answer (unavailable)",
}


def _types(operations: Iterable[Operation]) -> list[Any]:
    found: dict[str, Any] = {"ErrorBody": ErrorBody}
    for op in operations:
        for kind in (op.body, *op.responses.values()):
            if kind is not None:
                found.setdefault(repr(kind), kind)
    return list(found.values())


def _operation(op: Operation, schema_of: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary}
    if op.description:
        doc["description"] = op.description
    doc["security"] = [] if op.public_handler is not None else [{"bearer": []}]
    if op.scopes:
        doc["x-required-scopes"] = list(op.scopes)
    if op.params:
        doc["parameters"] = [
            {
                "name": param.name,
                "in": param.location,
                "required": param.required,
                "description": param.description,
                "schema": dict(param.schema),
            }
            for param in op.params
        ]
    if op.body is not None:
        doc["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": schema_of[repr(op.body)]}},
        }
    responses: dict[str, Any] = {}
    if op.stream:
        responses["200"] = {
            "description": "A stream of server-sent events",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    for status, kind in sorted(op.responses.items()):
        responses[str(status)] = {"description": "Success"}
        if kind is not None:
            responses[str(status)]["content"] = {
                "application/json": {"schema": schema_of[repr(kind)]}
            }
    errors = set(op.errors) | {500}
    if op.public_handler is None:
        errors |= {401, 429}
    for status in sorted(errors):
        responses[str(status)] = {
            "description": _ERRORS.get(status, "Error"),
            "content": {"application/json": {"schema": schema_of["ErrorBody"]}},
        }
    doc["responses"] = responses
    return doc


def build_openapi(operations: Iterable[Operation]) -> dict[str, Any]:
    """The OpenAPI 3.1 document describing ``operations``."""
    operations = list(operations)
    types = _types(operations)
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    schema_of = {repr(kind): schema for kind, schema in zip(types, schemas, strict=True)}
    schema_of["ErrorBody"] = schemas[0]
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, schema_of)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "signoff broker API",
            "version": __version__,
            "description": "A human sign-off in front of what AI agents do.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "sgn_live_<id>_<secret>",
                }
            },
        },
    }
