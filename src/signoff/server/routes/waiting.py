"""Waiting on one versioned resource (an approval, an action run): the long-poll (and its
query parameters) and the state-first stream of snapshots, shared by the routes that offer
them.

Both take the tenant's wake-up *before* reading, so a change committed between the read and
the wait is never missed, and both re-read after every wake-up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

import anyio
from starlette.responses import Response

from ..http import JSONResponse, query_float, query_int
from ..operation import Call, Param
from ..sse import EventStreamResponse, frame

__all__ = ["Versioned", "read_or_wait", "long_poll", "long_poll_params", "snapshot_stream"]


class Versioned(Protocol):
    """A resource whose ``version`` rises on every change."""

    @property
    def version(self) -> int:
        """The resource's version."""

    @property
    def status(self) -> Any:
        """The resource's status."""


V = TypeVar("V", bound=Versioned)


def long_poll_params(resource: str) -> tuple[Param, Param]:
    """The ``wait`` and ``after_version`` query parameters of a read that can long-poll, as
    the OpenAPI document describes them (``resource``: "run", "approval")."""
    wait = Param(
        "wait",
        "query",
        {"type": "number", "minimum": 0, "maximum": 25},
        "Long-poll: hold the request up to this many seconds (at most 25) for a change.",
    )
    after_version = Param(
        "after_version",
        "query",
        {"type": "integer", "minimum": 0},
        f"Long-poll: answer once the {resource}'s version is greater than this.",
    )
    return wait, after_version


async def read_or_wait(
    call: Call, read: Callable[[], Awaitable[V]], *, terminal: Callable[[V], bool]
) -> Response:
    """The resource now, or with ``wait`` in the query a `long_poll` on it (see
    `long_poll_params`)."""
    request, broker = call.request, call.broker
    wait = query_float(request, "wait", maximum=broker.config.max_wait)
    after_version = query_int(request, "after_version", default=None, minimum=0)
    if not wait:
        return JSONResponse(await read())
    return await long_poll(call, read, terminal=terminal, wait=wait, after_version=after_version)


async def long_poll(
    call: Call,
    read: Callable[[], Awaitable[V]],
    *,
    terminal: Callable[[V], bool],
    wait: float,
    after_version: int | None,
) -> Response:
    """Answer once the resource's version passes ``after_version`` (default: the version read
    first) or it is terminal, else after ``wait`` seconds with it unchanged."""
    broker = call.broker
    broker.stream_slots.acquire(call.auth.key_id)
    try:
        deadline = anyio.current_time() + wait
        while True:
            changed = broker.hub.watch(call.tenant_id)
            current = await read()
            if after_version is None:
                after_version = current.version
            remaining = deadline - anyio.current_time()
            if (
                current.version > after_version
                or terminal(current)
                or broker.hub.closed
                or remaining <= 0
            ):
                return JSONResponse(current)
            with anyio.move_on_after(remaining):
                await changed.wait()
    finally:
        broker.stream_slots.release(call.auth.key_id)


class _SnapshotFeed(Generic[V]):
    """Frames for one resource: each new version, until a terminal status."""

    def __init__(
        self,
        call: Call,
        read: Callable[[], Awaitable[V]],
        first: V,
        kind: str,
        terminal: Callable[[V], bool],
    ) -> None:
        self._call = call
        self._read = read
        self._version = first.version
        self._kind = kind
        self._terminal = terminal

    def watch(self) -> anyio.Event:
        return self._call.broker.hub.watch(self._call.tenant_id)

    async def read(self) -> tuple[list[bytes], bool]:
        current = await self._read()
        frames = []
        if current.version > self._version:
            self._version = current.version
            event = f"{self._kind}.{current.status}"
            frames.append(frame(id=current.version, event=event, data=current))
        return frames, self._terminal(current)


def snapshot_stream(
    call: Call,
    first: V,
    read: Callable[[], Awaitable[V]],
    *,
    kind: str,
    terminal: Callable[[V], bool],
) -> Response:
    """SSE: ``first`` as ``<kind>.snapshot``, then every new version as ``<kind>.<status>``,
    closed after a terminal one; ``id:`` is the version. ``first`` is read by the caller
    before the stream starts, so an unknown id is a plain 404."""
    broker = call.broker
    key_id = call.auth.key_id
    broker.stream_slots.acquire(key_id)
    prelude = b"retry: 3000\n" + frame(id=first.version, event=f"{kind}.snapshot", data=first)
    return EventStreamResponse(
        _SnapshotFeed(call, read, first, kind, terminal),
        prelude=prelude,
        hub=broker.hub,
        heartbeat=broker.config.heartbeat_interval,
        lifetime=broker.config.approval_stream_lifetime,
        on_close=lambda: broker.stream_slots.release(key_id),
    )
