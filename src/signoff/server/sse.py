"""Server-sent events on Starlette's `StreamingResponse`: frames, heartbeats, a lifetime cap
and the broker-wide shutdown, in one small response class.

A stream is driven by a `Feed`: ``watch()`` returns the event that fires on the next change
(taken before reading, so nothing committed in between is missed) and ``read()`` returns the
frames due since the last read and whether the stream is finished. The response sends a
comment line after every ``heartbeat`` seconds of silence (it keeps proxies open and detects
dead clients), ends after ``lifetime`` seconds (clients reconnect), and ends at once when the
hub closes for shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import anyio
import msgspec
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from .hub import Hub

__all__ = ["Feed", "EventStreamResponse", "frame", "HEADERS"]

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
PING = b": ping\n\n"
_encoder = msgspec.json.Encoder()


def frame(*, data: Any, event: str | None = None, id: int | str | None = None) -> bytes:
    """One SSE frame: optional ``id:`` and ``event:`` lines, then ``data:`` as JSON."""
    lines = []
    if id is not None:
        lines.append(b"id: %s\n" % str(id).encode())
    if event is not None:
        lines.append(b"event: %s\n" % event.encode())
    lines.append(b"data: " + _encoder.encode(data) + b"\n\n")
    return b"".join(lines)


class Feed(Protocol):
    """Where a stream's frames come from."""

    def watch(self) -> anyio.Event:
        """The event that is set when there may be something new to read."""

    async def read(self) -> tuple[list[bytes], bool]:
        """Frames due now, and True when the stream should end after them."""


class EventStreamResponse(StreamingResponse):
    """A ``text/event-stream`` response fed by a `Feed`; ``on_close`` runs however it ends."""

    def __init__(
        self,
        feed: Feed,
        *,
        prelude: bytes,
        hub: Hub,
        heartbeat: float,
        lifetime: float,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._feed = feed
        self._hub = hub
        self._heartbeat = heartbeat
        self._lifetime = lifetime
        self._on_close = on_close
        super().__init__(self._frames(prelude), media_type="text/event-stream", headers=HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stream, and release what the stream held whichever way it ends."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self._on_close is not None:
                self._on_close()

    async def _frames(self, prelude: bytes) -> AsyncIterator[bytes]:
        yield prelude
        deadline = anyio.current_time() + self._lifetime
        while not self._hub.closed:
            changed = self._feed.watch()
            frames, finished = await self._feed.read()
            if frames:
                yield b"".join(frames)
            if finished or self._hub.closed:
                return
            if frames:
                continue  # read again at once: a full page may have more behind it
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                return
            with anyio.move_on_after(min(self._heartbeat, remaining)) as timer:
                await changed.wait()
            if timer.cancelled_caught and anyio.current_time() < deadline:
                yield PING
