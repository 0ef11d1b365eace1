"""Scrubbing secret values out of what a connector hands back (results, errors, tracebacks).

Connectors should never put a secret into a result, but a target may echo a request header
back in its body, and an exception's text may quote one. Whatever the broker stores, emits or
logs from a connector passes through `redact` first, as a safety net.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import ErrorDetail

__all__ = ["REDACTED", "redact", "redact_error"]

REDACTED = "[redacted]"
#: Shorter values are not scrubbed: replacing every "a" would destroy results, not protect.
_MIN_SECRET_LENGTH = 4


def redact(value: Any, secrets: Mapping[str, str]) -> Any:
    """``value`` with every secret value inside its strings (keys too) replaced."""
    needles = sorted(
        (s for s in secrets.values() if len(s) >= _MIN_SECRET_LENGTH), key=len, reverse=True
    )
    if not needles:
        return value

    def scrub(item: Any) -> Any:
        if isinstance(item, str):
            for needle in needles:
                item = item.replace(needle, REDACTED)
            return item
        if isinstance(item, dict):
            return {scrub(k): scrub(v) for k, v in item.items()}
        if isinstance(item, list):
            return [scrub(v) for v in item]
        return item

    return scrub(value)


def redact_error(error: ErrorDetail, secrets: Mapping[str, str]) -> ErrorDetail:
    """An error with secret values scrubbed from its message and details."""
    return ErrorDetail(
        type=error.type,
        message=redact(error.message, secrets),
        details=redact(error.details, secrets),
    )
