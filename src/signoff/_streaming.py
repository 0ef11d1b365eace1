"""`AsyncStream`: an async iterator that is also an async context manager; and
`follow_snapshots`, the generator behind ``approvals.stream()`` and ``actions.stream()``.

A bare async generator that holds an open HTTP stream is only cleaned up when it is
garbage-collected if the caller stops early; wrapping it lets callers close it
deterministically with ``async with`` (or ``await stream.aclose()``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from types import TracebackType
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from ._kinds import Kind, S
    from .client import AsyncSignoff

T = TypeVar("T")

__all__ = ["AsyncStream", "MAX_HOLD", "follow_snapshots"]

#: The longest a single long-poll is held by the broker (seconds).
MAX_HOLD = 25


class AsyncStream(Generic[T]):
    """Items arriving over a long-lived connection; iterate, then close (or ``async with``)."""

    def __init__(self, generator: AsyncGenerator[T, None]) -> None:
        self._generator = generator

    def __aiter__(self) -> AsyncStream[T]:
        return self

    async def __anext__(self) -> T:
        return await self._generator.__anext__()

    async def aclose(self) -> None:
        """Close the underlying connection; iterating afterwards ends at once."""
        await self._generator.aclose()

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def follow_snapshots(
    client: AsyncSignoff, kind: Kind[S], quoted_id: str
) -> AsyncGenerator[S, None]:
    """Each new state of one approval or action run, the current one first, until terminal.

    Reads the subject's own event stream (``{path}/{id}/events``), which sends the current
    state first and reconnects with ``Last-Event-ID``; where event streams do not get
    through, long-polls ``{path}/{id}?wait=`` instead. Versions already seen are dropped.
    """
    from ._sse import StreamUnavailableError

    path = f"{kind.path}/{quoted_id}"
    seen = 0
    try:
        source = client._event_source(f"{path}/events")
        async with source:
            async for sse in source:
                if not sse.data:
                    continue
                snapshot = kind.decode(sse.data)
                if snapshot.version <= seen:
                    continue  # replayed after a reconnect
                seen = snapshot.version
                yield snapshot
                if snapshot.is_terminal:
                    return
    except StreamUnavailableError:
        pass
    while True:  # long-poll fallback
        snapshot = await client._get(
            path,
            cast_to=kind.model,
            params={"wait": MAX_HOLD, "after_version": seen},
            timeout=MAX_HOLD + 15.0,
            held=True,
        )
        if snapshot.version > seen:
            seen = snapshot.version
            yield snapshot
        if snapshot.is_terminal:
            return
