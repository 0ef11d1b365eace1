"""Events: the per-tenant append-only log of every change, in commit order."""

from __future__ import annotations

import builtins
from typing import TypeVar

import msgspec

from ._base import JSONObject, Model, Timestamp

__all__ = ["Event", "EventType"]

T = TypeVar("T")


class EventType:
    """The event types the broker emits today (``Event.type`` is a plain string, so new
    types from a newer broker pass through untouched)."""

    APPROVAL_CREATED = "approval.created"
    APPROVAL_APPROVED = "approval.approved"
    APPROVAL_DENIED = "approval.denied"
    APPROVAL_EXPIRED = "approval.expired"
    APPROVAL_CANCELLED = "approval.cancelled"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    POLICY_CREATED = "policy.created"
    POLICY_DELETED = "policy.deleted"
    CONNECTION_CREATED = "connection.created"
    CONNECTION_DELETED = "connection.deleted"
    ACTION_CREATED = "action.created"
    ACTION_AWAITING_APPROVAL = "action.awaiting_approval"
    ACTION_RUNNING = "action.running"
    ACTION_SUCCEEDED = "action.succeeded"
    ACTION_FAILED = "action.failed"
    ACTION_DENIED = "action.denied"
    ACTION_CANCELLED = "action.cancelled"


class Event(Model):
    """One entry of the tenant's event log.

    ``seq`` is gap-free and follows commit order within a tenant; it is the SSE ``id:`` and
    the ``after`` cursor. ``data`` is the full snapshot of the subject after the change (an
    ``Approval`` for ``approval.*`` events, an ``ActionRun`` for ``action.*`` events).
    """

    id: str
    seq: int
    type: str
    subject_id: str
    created_at: Timestamp
    actor: str | None = None
    data: JSONObject = msgspec.field(default_factory=dict)

    def data_as(self, model: builtins.type[T]) -> T:
        """Convert ``data`` into a model, e.g. ``event.data_as(Approval)``."""
        return msgspec.convert(self.data, model, strict=False)
