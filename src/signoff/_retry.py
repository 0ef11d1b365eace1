"""When a failed call is tried again, and after how long.

Retried: connection errors, timeouts, the statuses 408, 429, 500, 502, 503 and 504, and one
kind of 409: ``idempotency_request_in_progress``, which the broker answers (with
``Retry-After: 1``) while the first request with the same idempotency key is still running,
e.g. an action executing; asking again later gets that request's stored answer. Never
retried: every other 409 and 422 (a decision conflict or a body the broker refused will not
change on a second try) and every other 4xx.

A server-sent ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date) replaces the
exponential backoff; when it asks for longer than `MAX_RETRY_AFTER` or than what is left of
the call's deadline, the error is raised at once rather than retried early. The deadline
bounds every attempt and every wait together.

The first attempt runs without stamina (it costs ~19 us and an import per call); stamina
drives only the retries. ``stamina.set_active(False)`` therefore turns signoff's retries off
too, and ``stamina.set_testing(True)`` makes their waits zero.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TypeVar

from .errors import APIConnectionError, APIStatusError, APITimeoutError, RateLimitError

__all__ = [
    "RETRYABLE_STATUSES",
    "IN_PROGRESS",
    "MAX_RETRY_AFTER",
    "Backoff",
    "is_retryable",
    "retry_after",
    "server_wait",
    "call_with_retries",
    "DeadlineExceeded",
]

R = TypeVar("R")

log = logging.getLogger("signoff")

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

#: The one 409 worth repeating: the same key's first request has not finished yet.
IN_PROGRESS = "idempotency_request_in_progress"

#: The longest server-requested wait signoff sleeps through (seconds); longer asks fail fast.
MAX_RETRY_AFTER = 30.0


class Backoff:
    """Exponential backoff with jitter: retry ``n`` waits between half and all of
    ``min(maximum, initial * 2 ** (n - 1))`` seconds."""

    __slots__ = ("initial", "maximum")

    def __init__(self, initial: float = 0.5, maximum: float = 8.0) -> None:
        self.initial = initial
        self.maximum = maximum

    def __repr__(self) -> str:
        return f"Backoff(initial={self.initial}, maximum={self.maximum})"

    def wait(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        ceiling = min(self.maximum, self.initial * 2.0 ** min(retry - 1, 62))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter, not cryptography


def is_retryable(exc: BaseException) -> bool:
    """Whether a failed attempt may be tried again."""
    if isinstance(exc, APIStatusError):
        if exc.status_code == 409:
            return exc.type == IN_PROGRESS
        return exc.status_code in RETRYABLE_STATUSES
    return isinstance(exc, APIConnectionError)


def retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """The wait a response asks for, in seconds: ``retry-after-ms``, else ``Retry-After``
    as delta-seconds or an HTTP date. None when absent or unreadable; never negative."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            ms = float(value)
        except ValueError:
            ms = math.nan
        if math.isfinite(ms):
            return max(ms / 1000, 0.0)
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT; a bare one is read as such
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def server_wait(exc: BaseException) -> float | None:
    """The wait the broker asked for along with this error, if any."""
    if isinstance(exc, RateLimitError) and exc.retry_after is not None:
        return exc.retry_after
    if isinstance(exc, APIStatusError) and exc.response is not None:
        return retry_after(exc.response.headers)
    return None


class DeadlineExceeded(APITimeoutError):
    """The call's total deadline ran out (during an attempt, or before the next could start)."""


class _Decider:
    """The stamina backoff hook for one logical call: False to stop, else seconds to wait."""

    def __init__(self, backoff: Backoff, deadline_at: float, what: str) -> None:
        self.backoff = backoff
        self.deadline_at = deadline_at
        self.what = what
        self.retries = 0
        self.out_of_time = False
        self.last_failure: BaseException | None = None

    def __call__(self, exc: BaseException) -> bool | float:
        if not isinstance(exc, DeadlineExceeded):
            self.last_failure = exc
        if not is_retryable(exc):
            return False
        remaining = self.deadline_at - time.monotonic()
        if isinstance(exc, DeadlineExceeded) or remaining <= 0:
            self.out_of_time = True
            return False
        asked = server_wait(exc)
        if asked is not None:
            # A server that asks for more than we will wait gets its error back at once:
            # retrying earlier than asked only earns another 429.
            if asked > MAX_RETRY_AFTER or asked >= remaining:
                return False
            wait, source = asked, "Retry-After"
        else:
            wait, source = self.backoff.wait(self.retries + 1), "backoff"
            if wait >= remaining:
                self.out_of_time = True
                return False
        self.retries += 1
        log.debug(
            "retrying %s: attempt %d failed (%s); waiting %.3fs (%s)",
            self.what,
            self.retries,
            _reason(exc),
            wait,
            source,
        )
        return wait


def _reason(exc: BaseException) -> str:
    if isinstance(exc, APIStatusError):
        return f"status {exc.status_code}"
    return type(exc).__name__


async def call_with_retries(
    attempt: Callable[[int], Awaitable[R]],
    first_error: APIConnectionError | APIStatusError,
    *,
    max_retries: int,
    backoff: Backoff,
    deadline_at: float,
    deadline: float,
    what: str,
) -> R:
    """Retry a call whose first attempt failed with ``first_error``.

    ``attempt(n)`` makes retry number ``n`` (1-based). Raises the last error when retries
    are spent or not allowed, and `APITimeoutError` when the deadline leaves no time for
    the next one.
    """
    import stamina  # only calls that failed once pay for this import

    decider = _Decider(backoff, deadline_at, what)
    try:
        async for trial in stamina.retry_context(
            on=decider,
            attempts=max_retries + 1,
            timeout=None,  # the deadline is enforced by the decider and each attempt
        ):
            with trial:
                if trial.num == 1:
                    # Replay the failure that happened outside stamina, so stamina schedules
                    # (and its instrumentation sees) the first retry like every other.
                    raise first_error
                return await attempt(trial.num - 1)
    except (APIConnectionError, APIStatusError) as exc:
        if decider.out_of_time and not isinstance(exc, DeadlineExceeded):
            raise DeadlineExceeded(
                f"{what} did not succeed within its {deadline:g}s deadline "
                f"({decider.retries + 1} attempts; the last failed with: {exc})"
            ) from exc
        last = decider.last_failure
        if isinstance(exc, DeadlineExceeded) and exc.__cause__ is None and last is not None:
            # Cut short mid-attempt: the failure that led to that attempt is the real story.
            raise DeadlineExceeded(f"{exc} (the attempt before failed with: {last})") from last
        raise
    raise AssertionError("unreachable: stamina either returns or raises")
