"""The expiry sweeper: pending approvals become ``expired`` at ``expires_at``, on time.

It sleeps until the earliest pending expiry (woken early when an earlier one is created),
expires everything due, and repeats. It also runs once at startup, so approvals that fell due
while the broker was down expire at once. Expired idempotency keys are swept on the way.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

import anyio

from .hub import Hub
from .ids import utcnow
from .store.base import Store

__all__ = ["ExpirySweeper"]

log = logging.getLogger("signoff.server")
_BATCH = 500


class ExpirySweeper:
    """Expires due approvals on time; `notice` tells it about a new expiry."""

    def __init__(
        self, store: Store, hub: Hub, *, sweep_interval: float, idempotency_sweep_interval: float
    ) -> None:
        self._store = store
        self._hub = hub
        self._sweep_interval = sweep_interval
        self._idempotency_interval = idempotency_sweep_interval
        self._next: datetime | None = None
        self._wake: anyio.Event | None = None
        self._last_key_sweep = float("-inf")

    def notice(self, expires_at: datetime | None) -> None:
        """A pending approval now expires at ``expires_at``: wake up if that is sooner."""
        if expires_at is None or self._wake is None:
            return
        if self._next is None or expires_at < self._next:
            self._next = expires_at
            self._wake.set()

    async def run(self) -> None:
        """Sweep until cancelled; errors are logged and retried, never fatal."""
        while not self._hub.closed:
            # Take the wake-up before reading the next expiry: a notice in between counts.
            self._wake = anyio.Event()
            try:
                delay = await self.sweep_once()
            except Exception:
                log.exception("expiry sweep failed; retrying in 1 s")
                delay = 1.0
            with anyio.move_on_after(delay):
                await self._wake.wait()

    async def sweep_once(self) -> float:
        """Expire what is due now; returns how long to sleep until the next expiry."""
        while await self._store.expire_due(limit=_BATCH) >= _BATCH:
            pass
        if time.monotonic() - self._last_key_sweep >= self._idempotency_interval:
            self._last_key_sweep = time.monotonic()
            await self._store.sweep_idempotency_keys()
        self._next = await self._store.next_expiry()
        if self._next is None:
            return self._sweep_interval
        # A hair late rather than early, so the sweep that wakes finds the approval due.
        seconds = (self._next - utcnow()).total_seconds() + 0.002
        return max(0.0, min(seconds, self._sweep_interval))
