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
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'signoff' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from ._pagination import AsyncPaginator as AsyncPaginator
    from .client import AsyncSignoff as AsyncSignoff
    from .errors import (
        APIConnectionError as APIConnectionError,
    )
    from .errors import (
        APIResponseValidationError as APIResponseValidationError,
    )
    from .errors import (
        APIStatusError as APIStatusError,
    )
    from .errors import (
        APITimeoutError as APITimeoutError,
    )
    from .errors import (
        ApprovalCancelled as ApprovalCancelled,
    )
    from .errors import (
        ApprovalDenied as ApprovalDenied,
    )
    from .errors import (
        ApprovalError as ApprovalError,
    )
    from .errors import (
        ApprovalExpired as ApprovalExpired,
    )
    from .errors import (
        ApprovalTimeout as ApprovalTimeout,
    )
    from .errors import (
        AuthenticationError as AuthenticationError,
    )
    from .errors import (
        BadRequestError as BadRequestError,
    )
    from .errors import (
        ConflictError as ConflictError,
    )
    from .errors import (
        InternalServerError as InternalServerError,
    )
    from .errors import (
        NotFoundError as NotFoundError,
    )
    from .errors import (
        PermissionDeniedError as PermissionDeniedError,
    )
    from .errors import (
        RateLimitError as RateLimitError,
    )
    from .errors import (
        RequestTooLargeError as RequestTooLargeError,
    )
    from .errors import (
        SignoffError as SignoffError,
    )
    from .errors import (
        UnprocessableEntityError as UnprocessableEntityError,
    )
    from .errors import (
        WebhookVerificationError as WebhookVerificationError,
    )
    from .models import (
        ApiKey as ApiKey,
    )
    from .models import (
        ApiKeyCreated as ApiKeyCreated,
    )
    from .models import (
        Approval as Approval,
    )
    from .models import (
        ApprovalStatus as ApprovalStatus,
    )
    from .models import (
        Event as Event,
    )
    from .models import (
        Page as Page,
    )
    from .models import (
        Policy as Policy,
    )
    from .models import (
        PolicyEffect as PolicyEffect,
    )
