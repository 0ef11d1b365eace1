"""The blocking counterparts of resources, paginators and streams, driven through a loop thread."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Generic, ParamSpec, TypeVar

if TYPE_CHECKING:
    from ._loop_thread import LoopThread
    from ._pagination import AsyncPaginator
    from ._streaming import AsyncStream
    from .models import Page

__all__ = ["SyncPaginator", "SyncResource", "SyncStream"]

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")


class SyncPaginator(Generic[T]):
    """A lazily fetched list: ``for item in paginator`` walks every page, one request per page."""

    def __init__(self, loop: LoopThread, paginator: AsyncPaginator[T]) -> None:
        self._loop = loop
        self._paginator = paginator

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.data

    def pages(self) -> Iterator[Page[T]]:
        """Each page in turn (the next one is fetched while you work on this one)."""
        return self._loop.iterate(self._paginator.pages)

    def first_page(self) -> Page[T]:
        """Just the first page (``await paginator`` in the async client)."""

        async def first() -> Page[T]:
            return await self._paginator

        return self._loop.call(first)

    def collect(self, limit: int | None = None) -> list[T]:
        """Every item (or the first ``limit``) as a list."""
        return self._loop.call(self._paginator.collect, limit=limit)


class SyncStream(Generic[T]):
    """Items arriving over a long-lived connection; iterate it, then close it (or use ``with``)."""

    def __init__(self, loop: LoopThread, stream: AsyncStream[T]) -> None:
        self._loop = loop
        self._stream = stream
        self._iterator: Iterator[T] | None = None

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._iterator is None:
            self._iterator = self._loop.iterate(lambda: self._stream)
        return next(self._iterator)

    def close(self) -> None:
        """Close the underlying connection."""
        if self._iterator is not None:
            close = getattr(self._iterator, "close", None)
            if close is not None:
                close()
        elif not self._loop.closed:
            self._loop.call(self._stream.aclose)

    def __enter__(self) -> SyncStream[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SyncResource(Generic[R]):
    """Base of the generated blocking resources: forwards each call to the async resource."""

    def __init__(self, resource: R, loop: LoopThread) -> None:
        self._async = resource
        self._loop = loop

    def __repr__(self) -> str:
        return f"<{type(self).__name__} (sync)>"

    def _call(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        return self._loop.call(fn, *args, **kwargs)

    def _paginate(
        self, fn: Callable[P, AsyncPaginator[T]], *args: P.args, **kwargs: P.kwargs
    ) -> SyncPaginator[T]:
        # Built on the loop thread: the paginator may create loop-bound primitives.
        return SyncPaginator(self._loop, self._loop.call_sync(fn, *args, **kwargs))

    def _stream(
        self, fn: Callable[P, AsyncStream[T]], *args: P.args, **kwargs: P.kwargs
    ) -> SyncStream[T]:
        return SyncStream(self._loop, self._loop.call_sync(fn, *args, **kwargs))
