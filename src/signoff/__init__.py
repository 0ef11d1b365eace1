"""signoff: put a human sign-off in front of what AI agents do.

```python
import signoff

async with signoff.AsyncSignoff() as client:        # SIGNOFF_API_KEY, SIGNOFF_BASE_URL
    approval = await client.approvals.create(action="payments.refund", summary="Refund $42")
    approval = await client.approvals.wait(approval.id, timeout=300)
```

Everything public is importable from here; names load on first use so ``import signoff``
stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it. Loaded on first attribute access (PEP 562).
_LAZY: dict[str, str] = {
    # clients
    "AsyncSignoff": "signoff.client",
    "Signoff": "signoff.sync",
    "embedded": "signoff._embedded",
    "require_approval": "signoff.gate",
    "AsyncStream": "signoff._streaming",
    "SyncPaginator": "signoff._sync_base",
    "SyncStream": "signoff._sync_base",
    "AsyncPaginator": "signoff._pagination",
    # errors
    "SignoffError": "signoff.errors",
    "APIConnectionError": "signoff.errors",
    "APITimeoutError": "signoff.errors",
    "APIStatusError": "signoff.errors",
    "BadRequestError": "signoff.errors",
    "AuthenticationError": "signoff.errors",
    "PermissionDeniedError": "signoff.errors",
    "NotFoundError": "signoff.errors",
    "ConflictError": "signoff.errors",
    "RequestTooLargeError": "signoff.errors",
    "UnprocessableEntityError": "signoff.errors",
    "RateLimitError": "signoff.errors",
    "InternalServerError": "signoff.errors",
    "APIResponseValidationError": "signoff.errors",
    "ApprovalError": "signoff.errors",
    "ApprovalDenied": "signoff.errors",
    "ApprovalExpired": "signoff.errors",
    "ApprovalCancelled": "signoff.errors",
    "ApprovalTimeout": "signoff.errors",
    "ActionTimeout": "signoff.errors",
    "RequestValidationError": "signoff.errors",
    "WebhookVerificationError": "signoff.errors",
    # models
    "Approval": "signoff.models",
    "ApprovalStatus": "signoff.models",
    "ApiKey": "signoff.models",
    "ApiKeyCreated": "signoff.models",
    "Event": "signoff.models",
    "Page": "signoff.models",
    "Policy": "signoff.models",
    "PolicyEffect": "signoff.models",
    "ActionRequest": "signoff.models",
    "ActionRun": "signoff.models",
    "ActionType": "signoff.models",
    "AuditEntry": "signoff.models",
    "AuditVerification": "signoff.models",
    "Connection": "signoff.models",
    "EvidencePack": "signoff.models",
    "RunStatus": "signoff.models",
    # governed actions
    "ActionResult": "signoff._action_items",
}
# Public submodules, also loaded on first use: ``signoff.evidence.verify(pack)``.
_SUBMODULES = frozenset({"evidence"})

__all__ = sorted([*_LAZY, *_SUBMODULES, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"signoff.{name}")  # the import binds it here too
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'signoff' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from . import evidence as evidence
    from ._action_items import ActionResult as ActionResult
    from ._embedded import embedded as embedded
    from ._pagination import AsyncPaginator as AsyncPaginator
    from ._streaming import AsyncStream as AsyncStream
    from ._sync_base import SyncPaginator as SyncPaginator, SyncStream as SyncStream
    from .client import AsyncSignoff as AsyncSignoff
    from .errors import (
        ActionTimeout as ActionTimeout,
        APIConnectionError as APIConnectionError,
        APIResponseValidationError as APIResponseValidationError,
        APIStatusError as APIStatusError,
        APITimeoutError as APITimeoutError,
        ApprovalCancelled as ApprovalCancelled,
        ApprovalDenied as ApprovalDenied,
        ApprovalError as ApprovalError,
        ApprovalExpired as ApprovalExpired,
        ApprovalTimeout as ApprovalTimeout,
        AuthenticationError as AuthenticationError,
        BadRequestError as BadRequestError,
        ConflictError as ConflictError,
        InternalServerError as InternalServerError,
        NotFoundError as NotFoundError,
        PermissionDeniedError as PermissionDeniedError,
        RateLimitError as RateLimitError,
        RequestTooLargeError as RequestTooLargeError,
        RequestValidationError as RequestValidationError,
        SignoffError as SignoffError,
        UnprocessableEntityError as UnprocessableEntityError,
        WebhookVerificationError as WebhookVerificationError,
    )
    from .gate import require_approval as require_approval
    from .models import (
        ActionRequest as ActionRequest,
        ActionRun as ActionRun,
        ActionType as ActionType,
        ApiKey as ApiKey,
        ApiKeyCreated as ApiKeyCreated,
        Approval as Approval,
        ApprovalStatus as ApprovalStatus,
        AuditEntry as AuditEntry,
        AuditVerification as AuditVerification,
        Connection as Connection,
        Event as Event,
        EvidencePack as EvidencePack,
        Page as Page,
        Policy as Policy,
        PolicyEffect as PolicyEffect,
        RunStatus as RunStatus,
    )
    from .sync import Signoff as Signoff
