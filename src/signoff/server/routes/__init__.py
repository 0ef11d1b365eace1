"""The route table: every operation of the API, one module per resource."""

from __future__ import annotations

from ..operation import Operation
from . import api_keys, approvals, events, health, policies

__all__ = ["OPERATIONS"]

#: Every operation except the OpenAPI document itself (added by the app).
OPERATIONS: tuple[Operation, ...] = (
    *health.OPERATIONS,
    *approvals.OPERATIONS,
    *events.OPERATIONS,
    *api_keys.OPERATIONS,
    *policies.OPERATIONS,
)
