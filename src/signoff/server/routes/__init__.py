"""The route table: every operation of the API, one module per resource."""

from __future__ import annotations

from ..operation import Operation
from . import actions, api_keys, approvals, audit, connections, events, health, policies

__all__ = ["OPERATIONS"]

#: Every operation except the OpenAPI document itself (added by the app).
OPERATIONS: tuple[Operation, ...] = (
    *health.OPERATIONS,
    *approvals.OPERATIONS,
    *events.OPERATIONS,
    *api_keys.OPERATIONS,
    *policies.OPERATIONS,
    *connections.OPERATIONS,
    *actions.OPERATIONS,
    *audit.OPERATIONS,
)
