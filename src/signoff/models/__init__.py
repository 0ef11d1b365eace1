"""The wire contract of the signoff API, version 1: one msgspec Struct per body.

Both halves import this package and nothing else of each other: the SDK decodes responses
with these types and the broker decodes requests and encodes responses with them, so the wire
format has exactly one definition. Response models ignore fields they do not know and accept
enum values they do not know (see `OpenEnum`); request models reject unknown fields.
"""

from ._base import (
    ErrorBody,
    ErrorDetail,
    JSONObject,
    Metadata,
    MetadataValue,
    Model,
    OpenEnum,
    Page,
    RequestModel,
    Timestamp,
)
from .actions import (
    TERMINAL_RUN_STATUSES,
    ActionBatchCreate,
    ActionBatchItem,
    ActionBatchResponse,
    ActionBatchResult,
    ActionRequest,
    ActionRun,
    ActionType,
    Connection,
    ConnectionCreate,
    RunStatus,
)
from .approvals import (
    TERMINAL_APPROVAL_STATUSES,
    ActionName,
    Approval,
    ApprovalCancel,
    ApprovalCreate,
    ApprovalStatus,
    DecisionCreate,
)
from .audit import AuditEntry, AuditVerification, EvidencePack, PolicyDecision
from .events import Event, EventType
from .keys import ALL_SCOPES, ApiKey, ApiKeyCreate, ApiKeyCreated, Scope
from .policies import Policy, PolicyCreate, PolicyEffect

__all__ = [
    "ALL_SCOPES",
    "TERMINAL_APPROVAL_STATUSES",
    "TERMINAL_RUN_STATUSES",
    "ActionBatchCreate",
    "ActionBatchItem",
    "ActionBatchResponse",
    "ActionBatchResult",
    "ActionRequest",
    "ActionName",
    "ActionRun",
    "ActionType",
    "ApiKey",
    "ApiKeyCreate",
    "ApiKeyCreated",
    "Approval",
    "ApprovalCancel",
    "ApprovalCreate",
    "ApprovalStatus",
    "AuditEntry",
    "AuditVerification",
    "Connection",
    "ConnectionCreate",
    "DecisionCreate",
    "ErrorBody",
    "ErrorDetail",
    "Event",
    "EventType",
    "EvidencePack",
    "JSONObject",
    "Metadata",
    "MetadataValue",
    "Model",
    "OpenEnum",
    "Page",
    "Policy",
    "PolicyCreate",
    "PolicyDecision",
    "PolicyEffect",
    "RequestModel",
    "RunStatus",
    "Scope",
    "Timestamp",
]
