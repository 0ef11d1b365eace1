"""AsyncPaginator: what every ``list()`` returns.

```python
async for approval in client.approvals.list(status="pending"): ...   # items, page by page
page = await client.approvals.list()                                 # the first page only
async for page in client.approvals.list().pages(): ...               # whole pages
approvals = await client.approvals.list().collect(limit=500)
```

While the caller works through one page, the next is already being fetched.

Why the prefetch is not a task-group child: a task group would have to stay open from one
``__anext__`` call to the next, across the caller's own code. A plain ``async for`` that
ends in ``break`` never closes its iterator in the same task (the interpreter finalizes it
later, from another task), and a blocking wrapper drives each ``__anext__`` from a different
task; either way the group's cancel scope would be exited in the wrong task, which anyio and
trio reject. So the one page fetched ahead runs as a detached task that is cancelled, from
any thread, as soon as its iterator is closed or dropped. It holds nothing but that request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar

import anyio

from ._spawn import spawn_detached
from .errors import APIConnectionError
from .models import Page

__all__ = ["AsyncPaginator", "PageIterator", "ItemIterator"]

T = TypeVar("T")

#: Fetch one page: ``None`` for the first, else the cursor the previous page returned.
FetchPage = Callable[[str | None], Awaitable[Page[T]]]


class AsyncPaginator(Generic[T]):
    """A lazily fetched, cursor-paginated list: ``async for`` over items, ``await`` for the
    first page, `pages` for whole pages, `collect` for a list. Each iteration starts over."""

    __slots__ = ("_fetch",)

    def __init__(self, fetch: FetchPage[T]) -> None:
        self._fetch = fetch

    def __await__(self) -> Generator[Any, None, Page[T]]:
        return self._fetch(None).__await__()

    def __aiter__(self) -> ItemIterator[T]:
        return ItemIterator(PageIterator(self._fetch))

    def pages(self) -> PageIterator[T]:
        """Iterate over whole pages, from the first."""
        return PageIterator(self._fetch)

    async def collect(self, limit: int | None = None) -> list[T]:
        """Every item (or the first ``limit``) in one list."""
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be None or at least 0, not {limit}")
        items: list[T] = []
        if limit == 0:
            return items
        async with self.pages() as pages:
            async for page in pages:
                items.extend(page.data)
                if limit is not None and len(items) >= limit:
                    del items[limit:]
                    break
        return items


class PageIterator(Generic[T]):
    """Async iterator over pages that fetches page n+1 while the caller handles page n.

    Stops after a page without ``next_cursor`` or an empty page (an empty first page is still
    returned). Close it (``aclose()``, ``async with``) to stop the fetch ahead at once;
    dropping it does the same.
    """

    def __init__(self, fetch: FetchPage[T]) -> None:
        self._fetch = fetch
        self._ahead: _Prefetch[T] | None = None
        self._started = False
        self._done = False

    def __aiter__(self) -> PageIterator[T]:
        return self

    async def __anext__(self) -> Page[T]:
        if self._done:
            raise StopAsyncIteration
        try:
            if not self._started:
                page = await self._fetch(None)
                self._started = True
            elif self._ahead is not None:
                page = await self._ahead.result()
                self._ahead = None
                if not page.data:
                    raise StopAsyncIteration
            else:
                raise StopAsyncIteration
        except Exception:
            # A failed page (or the end) ends the iteration; a cancelled wait does not, so
            # the fetch ahead is kept for the next call.
            self._done = True
            raise
        if page.data and page.next_cursor is not None:
            self._ahead = _Prefetch(self._fetch, page.next_cursor)
        else:
            self._done = True
        return page

    async def aclose(self) -> None:
        """Stop iterating and cancel the page being fetched ahead, waiting for it to end."""
        self._done = True
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.cancel()
            with anyio.move_on_after(5, shield=True):
                await ahead.finished.wait()

    async def __aenter__(self) -> PageIterator[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        ahead = getattr(self, "_ahead", None)
        if ahead is not None:
            ahead.cancel()  # synchronous and thread-safe; schedules no coroutine


class ItemIterator(Generic[T]):
    """Async iterator over the items of every page, in order."""

    def __init__(self, pages: PageIterator[T]) -> None:
        self._pages = pages
        self._items: Iterator[T] = iter(())

    def __aiter__(self) -> ItemIterator[T]:
        return self

    async def __anext__(self) -> T:
        while True:
            for item in self._items:
                return item
            page = await self._pages.__anext__()
            self._items = iter(page.data)

    async def aclose(self) -> None:
        """Stop iterating and cancel the page being fetched ahead."""
        self._items = iter(())
        await self._pages.aclose()

    async def __aenter__(self) -> ItemIterator[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _Prefetch(Generic[T]):
    """One page being fetched in a detached task."""

    def __init__(self, fetch: FetchPage[T], cursor: str) -> None:
        self.finished = anyio.Event()
        self._page: Page[T] | None = None
        self._error: Exception | None = None
        self.cancel = spawn_detached(
            self._run(fetch, cursor), self.finished.set, name="signoff page prefetch"
        )

    async def _run(self, fetch: FetchPage[T], cursor: str) -> None:
        try:
            self._page = await fetch(cursor)
        except Exception as exc:  # handed to the caller by result()
            self._error = exc

    async def result(self) -> Page[T]:
        await self.finished.wait()
        if self._error is not None:
            raise self._error
        if self._page is None:
            raise APIConnectionError("the request for the next page was cancelled")
        return self._page
