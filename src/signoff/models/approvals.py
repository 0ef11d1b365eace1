"""Approvals: a human decision on one proposed call."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from ._base import JSONObject, Metadata, Model, OpenEnum, RequestModel, Timestamp

__all__ = [
    "ActionName",
    "ApprovalStatus",
    "Approval",
    "ApprovalCreate",
    "DecisionCreate",
    "ApprovalCancel",
    "TERMINAL_APPROVAL_STATUSES",
]

#: An action name such as ``payments.refund``: what the agent wants to do.
ActionName = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/\-]*$"),
]
Text = Annotated[str, msgspec.Meta(max_length=4000)]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
#: Seconds until a pending approval expires: one second to thirty days.
ExpiresIn = Annotated[int, msgspec.Meta(ge=1, le=30 * 86400)]
URL = Annotated[str, msgspec.Meta(max_length=2000, pattern=r"^https?://")]


class ApprovalStatus(OpenEnum):
    """Where an approval stands. ``pending`` is the only state that ever changes."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


TERMINAL_APPROVAL_STATUSES = frozenset(
    {
        ApprovalStatus.APPROVED,
        ApprovalStatus.DENIED,
        ApprovalStatus.EXPIRED,
        ApprovalStatus.CANCELLED,
    }
)


class Approval(Model):
    """A request for a human decision on one proposed call, and its outcome.

    ``version`` rises by one on every change, so a snapshot with a higher version is newer.
    ``decided_by`` names who settled it: an API key id (``key_...``), ``policy:<id>`` when a
    policy decided at once, or ``system`` for expiry.
    """

    id: str
    status: ApprovalStatus
    action: str
    version: int
    created_at: Timestamp
    updated_at: Timestamp
    summary: str | None = None
    reason: str | None = None
    function_name: str | None = None
    arguments: JSONObject | None = None
    context: JSONObject | None = None
    metadata: JSONObject = msgspec.field(default_factory=dict)
    expires_at: Timestamp | None = None
    callback_url: str | None = None
    dedup_key: str | None = None
    approver_group: str | None = None
    policy_id: str | None = None
    requested_by: str | None = None
    decided_by: str | None = None
    decided_at: Timestamp | None = None
    comment: str | None = None

    @property
    def is_terminal(self) -> bool:
        """True once the approval can never change again."""
        # A status this SDK does not know is not treated as final: waiting on it fails
        # closed (a timeout), never open.
        return self.status in TERMINAL_APPROVAL_STATUSES


class ApprovalCreate(RequestModel):
    """Body of ``POST /v1/approvals``."""

    action: ActionName
    summary: Text | None = None
    reason: Text | None = None
    function_name: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    arguments: JSONObject | None = None
    context: JSONObject | None = None
    metadata: Metadata | None = None
    expires_in: ExpiresIn | None = None
    callback_url: URL | None = None
    dedup_key: ShortText | None = None


class DecisionCreate(RequestModel):
    """Body of ``POST /v1/approvals/{id}/decision``."""

    decision: Literal["approve", "deny"]
    comment: Text | None = None


class ApprovalCancel(RequestModel):
    """Body of ``POST /v1/approvals/{id}/cancel`` (optional)."""

    comment: Text | None = None
