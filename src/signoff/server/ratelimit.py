"""Per-key limits: a token bucket for requests and a cap on open streams and long-polls.

Both live in process memory. With several broker processes (PostgreSQL) each enforces its own
limits, so the effective limit is per process.
"""

from __future__ import annotations

import math
import time

from .http import ApiError

__all__ = ["RateLimiter", "StreamSlots"]


class RateLimiter:
    """A token bucket per key: ``rate`` requests a second sustained, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(max(burst, 1))
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, key_id: str) -> None:
        """Take one token for ``key_id``; 429 ``rate_limited`` with Retry-After if none is left."""
        now = time.monotonic()
        tokens, last = self._buckets.get(key_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens < 1.0:
            self._buckets[key_id] = (tokens, now)
            wait = (1.0 - tokens) / self._rate if self._rate > 0 else 60.0
            retry_after = max(1, math.ceil(wait))
            raise ApiError(
                429,
                "rate_limited",
                f"too many requests for API key {key_id}; retry in {retry_after} s",
                {"retry_after": retry_after},
                headers={"Retry-After": str(retry_after)},
            )
        self._buckets[key_id] = (tokens - 1.0, now)


class StreamSlots:
    """Counts open streams and long-polls per key, up to a cap."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: dict[str, int] = {}

    def open_count(self, key_id: str) -> int:
        """How many streams the key holds now."""
        return self._open.get(key_id, 0)

    def acquire(self, key_id: str) -> None:
        """Take a slot; 429 ``too_many_streams`` when the key holds the maximum already."""
        held = self._open.get(key_id, 0)
        if held >= self._limit:
            raise ApiError(
                429,
                "too_many_streams",
                f"API key {key_id} has {held} streams and long-polls open (the limit); "
                "close one or retry later",
                {"limit": self._limit},
                headers={"Retry-After": "1"},
            )
        self._open[key_id] = held + 1

    def release(self, key_id: str) -> None:
        """Give a slot back."""
        held = self._open.get(key_id, 0) - 1
        if held <= 0:
            self._open.pop(key_id, None)
        else:
            self._open[key_id] = held
