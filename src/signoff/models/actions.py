"""Connections, action types and action runs: governed execution."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from ._base import ErrorDetail, JSONObject, Metadata, Model, OpenEnum, RequestModel, Timestamp
from .approvals import ActionName

__all__ = [
    "Connection",
    "ConnectionCreate",
    "ActionType",
    "RunStatus",
    "ActionRun",
    "ActionRequest",
    "ActionBatchItem",
    "ActionBatchCreate",
    "ActionBatchResult",
    "ActionBatchResponse",
    "TERMINAL_RUN_STATUSES",
]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Connection(Model):
    """A connector bound to its config and secrets. Secrets are write-only: only their names
    are ever returned."""

    id: str
    name: str
    connector: str
    created_at: Timestamp
    config: JSONObject = msgspec.field(default_factory=dict)
    secret_names: list[str] = msgspec.field(default_factory=list)


class ConnectionCreate(RequestModel):
    """Body of ``POST /v1/connections``."""

    name: Name
    connector: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    config: JSONObject | None = None
    secrets: dict[str, str] | None = None

    def __repr__(self) -> str:
        # Keeps secret values out of logs and tracebacks that print the object.
        hidden = None if self.secrets is None else dict.fromkeys(self.secrets, "***")
        return (
            f"ConnectionCreate(name={self.name!r}, connector={self.connector!r}, "
            f"config={self.config!r}, secrets={hidden!r})"
        )


class ActionType(Model):
    """Something a connection can do, with the JSON Schema its ``input`` must satisfy."""

    name: str
    input_schema: JSONObject
    description: str | None = None


class RunStatus(OpenEnum):
    """Where an action run stands."""

    AWAITING_APPROVAL = "awaiting_approval"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DENIED = "denied"
    CANCELLED = "cancelled"


TERMINAL_RUN_STATUSES = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.DENIED, RunStatus.CANCELLED}
)


class ActionRun(Model):
    """One governed execution of an action type through a connection.

    ``outcome`` is the policy decision (``allow``, ``deny`` or ``require_approval``);
    ``approval_id`` is set when a human had to decide.
    """

    id: str
    connection_id: str
    action_type: str
    status: RunStatus
    version: int
    created_at: Timestamp
    updated_at: Timestamp
    input: JSONObject = msgspec.field(default_factory=dict)
    metadata: JSONObject = msgspec.field(default_factory=dict)
    outcome: str | None = None
    policy_id: str | None = None
    approval_id: str | None = None
    result: Any = None
    error: ErrorDetail | None = None
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    requested_by: str | None = None

    @property
    def is_terminal(self) -> bool:
        """True once the run can never change again."""
        return self.status in TERMINAL_RUN_STATUSES


class ActionRequest(RequestModel):
    """One action to run: body of ``POST /v1/actions`` and the item of ``execute_many``."""

    connection_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    action_type: ActionName
    input: JSONObject
    metadata: Metadata | None = None


class ActionBatchItem(ActionRequest, kw_only=True):
    """One item of a batch: an action request with its own idempotency key."""

    idempotency_key: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None = None


class ActionBatchCreate(RequestModel):
    """Body of ``POST /v1/actions/batch``: up to 100 items, each answered on its own."""

    items: Annotated[list[ActionBatchItem], msgspec.Meta(min_length=1, max_length=100)]


class ActionBatchResult(Model):
    """The answer to one batch item: its HTTP-equivalent status and either the run or the error."""

    status_code: int
    run: ActionRun | None = None
    error: ErrorDetail | None = None


class ActionBatchResponse(Model):
    """Response of ``POST /v1/actions/batch``: one result per item, in request order."""

    data: list[ActionBatchResult]
