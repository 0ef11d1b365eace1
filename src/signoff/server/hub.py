"""In-process wake-ups: "tenant T committed something" and "the broker is shutting down".

A waiter takes the tenant's current event *before* reading the database, reads, and waits on
the event only if what it read was not enough. Every commit swaps the tenant's event for a
fresh one and sets the old, so no commit between the read and the wait can be missed. Waiters
always re-read after waking: the event says "look again", never what changed (so a lossy
source such as PostgreSQL NOTIFY can plug in here later).
"""

from __future__ import annotations

import anyio

__all__ = ["Hub"]


class Hub:
    """Per-tenant commit notifications plus one broker-wide shutdown signal."""

    def __init__(self) -> None:
        self._events: dict[str, anyio.Event] = {}
        self._closed = False
        self._closed_event: anyio.Event | None = None

    @property
    def closed(self) -> bool:
        """True once the broker is shutting down: streams and long-polls end."""
        return self._closed

    def watch(self, tenant_id: str) -> anyio.Event:
        """The event set on the tenant's next commit (or at shutdown). Take it before reading."""
        if self._closed:
            return self._set_event()
        event = self._events.get(tenant_id)
        if event is None:
            event = self._events[tenant_id] = anyio.Event()
        return event

    def notify(self, tenant_id: str, seq: int) -> None:
        """Wake every waiter of the tenant: the `Store.subscribe` callback, run on the event
        loop after a commit. ``seq`` (the tenant's newest event) is part of that callback's
        signature; the hub ignores it, since waiters re-read whatever they wait on."""
        event = self._events.pop(tenant_id, None)
        if event is not None:
            event.set()

    def close(self) -> None:
        """Shut down: wake every waiter now, and make every later wait return at once."""
        self._closed = True
        events, self._events = self._events, {}
        for event in events.values():
            event.set()
        if self._closed_event is not None:
            self._closed_event.set()

    def _set_event(self) -> anyio.Event:
        event = anyio.Event()
        event.set()
        return event

    async def wait_closed(self) -> None:
        """Return once `close` has been called."""
        if self._closed:
            return
        if self._closed_event is None:
            self._closed_event = anyio.Event()
        await self._closed_event.wait()
