"""`AsyncStream`: an async iterator that is also an async context manager.

A bare async generator that holds an open HTTP stream is only cleaned up when it is
garbage-collected if the caller stops early; wrapping it lets callers close it
deterministically with ``async with`` (or ``await stream.aclose()``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["AsyncStream"]


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
