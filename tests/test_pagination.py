"""AsyncPaginator: items, first page, pages, collect; the next page is fetched ahead."""

from __future__ import annotations

import asyncio
import gc
import re
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
import sniffio
from pytest_httpx import HTTPXMock

from _helpers import BASE_URL, approval, make_client
from signoff._spawn import spawn_detached
from signoff.client import AsyncSignoff
from signoff.errors import InternalServerError
from signoff.models import Approval, Page

pytestmark = pytest.mark.anyio

PAGES = {
    None: (["apr_1", "apr_2"], "c2"),
    "c2": (["apr_3", "apr_4"], "c3"),
    "c3": (["apr_5"], None),
}
ALL_IDS = ["apr_1", "apr_2", "apr_3", "apr_4", "apr_5"]
LIST_URL = re.compile(re.escape(f"{BASE_URL}/v1/approvals") + r"(\?.*)?$")


@pytest.fixture
async def client() -> AsyncIterator[AsyncSignoff]:
    async with make_client(max_retries=0) as client:
        yield client


def page_body(cursor: str | None) -> dict[str, object]:
    ids, next_cursor = PAGES[cursor]
    return {"data": [approval(id=i) for i in ids], "next_cursor": next_cursor}


def serve_pages(httpx_mock: HTTPXMock) -> list[str | None]:
    """Answer list requests from PAGES; returns the cursors asked for, in order."""
    asked: list[str | None] = []

    def respond(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        asked.append(cursor)
        return httpx.Response(200, json=page_body(cursor))

    httpx_mock.add_callback(respond, url=LIST_URL, is_reusable=True)
    return asked


def paginate(client: AsyncSignoff, **params: object):  # type: ignore[no-untyped-def]
    return client._paginate("/v1/approvals", item_type=Approval, params=params or None)


async def test_async_for_yields_every_item_across_pages(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    asked = serve_pages(httpx_mock)
    ids = [a.id async for a in paginate(client, status="pending")]
    assert ids == ALL_IDS
    assert asked == [None, "c2", "c3"]
    first = httpx_mock.get_requests()[0]
    assert first.url.params["status"] == "pending"
    assert all(r.url.params["status"] == "pending" for r in httpx_mock.get_requests())


async def test_await_gives_the_first_page_only(client: AsyncSignoff, httpx_mock: HTTPXMock) -> None:
    asked = serve_pages(httpx_mock)
    page = await paginate(client)
    assert isinstance(page, Page)
    assert [a.id for a in page.data] == ["apr_1", "apr_2"]
    assert page.next_cursor == "c2"
    assert asked == [None]


async def test_pages_yields_each_page(client: AsyncSignoff, httpx_mock: HTTPXMock) -> None:
    serve_pages(httpx_mock)
    pages = [[a.id for a in page.data] async for page in paginate(client).pages()]
    assert pages == [["apr_1", "apr_2"], ["apr_3", "apr_4"], ["apr_5"]]


async def test_collect_gathers_items_up_to_a_limit(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    serve_pages(httpx_mock)
    assert [a.id for a in await paginate(client).collect()] == ALL_IDS
    assert [a.id for a in await paginate(client).collect(limit=3)] == ALL_IDS[:3]
    assert await paginate(client).collect(limit=0) == []


async def test_iterating_twice_starts_over(client: AsyncSignoff, httpx_mock: HTTPXMock) -> None:
    asked = serve_pages(httpx_mock)
    paginator = paginate(client)
    first = [a.id async for a in paginator]
    second = [a.id async for a in paginator]
    assert first == second == ALL_IDS
    assert asked == [None, "c2", "c3"] * 2


async def test_an_empty_page_ends_the_iteration_even_with_a_cursor(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={"data": [approval(id="apr_1")], "next_cursor": "c2"})
    httpx_mock.add_response(json={"data": [], "next_cursor": "c3"})
    assert [a.id async for a in paginate(client)] == ["apr_1"]
    assert len(httpx_mock.get_requests()) == 2


async def test_an_empty_first_page_is_still_a_page(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={"data": [], "next_cursor": None})
    pages = [page async for page in paginate(client).pages()]
    assert len(pages) == 1
    assert pages[0].data == []


async def test_a_custom_cursor_parameter_is_used(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={"data": [approval()], "next_cursor": "41"})
    httpx_mock.add_response(json={"data": [], "next_cursor": "41"})
    paginator = client._paginate("/v1/events", item_type=Approval, cursor_param="after")
    assert len([item async for item in paginator]) == 1
    assert httpx_mock.get_requests()[1].url.params["after"] == "41"


async def test_the_next_page_is_requested_while_the_caller_handles_this_one(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    second_page_requested = anyio.Event()

    def respond(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        if cursor == "c2":
            second_page_requested.set()
        return httpx.Response(200, json=page_body(cursor))

    httpx_mock.add_callback(respond, url=LIST_URL, is_reusable=True)
    items = aiter(paginate(client))
    first = await anext(items)
    assert first.id == "apr_1"
    # The caller has not asked for anything past the first item, yet page two is on its way.
    with anyio.fail_after(2):
        await second_page_requested.wait()
    rest = [a.id async for a in items]
    assert rest == ALL_IDS[1:]


async def test_breaking_early_cancels_the_fetch_ahead(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    fetch_ahead_started = anyio.Event()
    fetch_ahead_cancelled = anyio.Event()

    async def respond(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        if cursor == "c2":
            fetch_ahead_started.set()
            try:
                await anyio.sleep_forever()
            finally:
                fetch_ahead_cancelled.set()
        return httpx.Response(200, json=page_body(cursor))

    httpx_mock.add_callback(respond, url=LIST_URL, is_reusable=True)
    tasks_before = _tasks()
    async for item in paginate(client):
        assert item.id == "apr_1"
        with anyio.fail_after(2):
            await fetch_ahead_started.wait()
        break
    gc.collect()
    with anyio.fail_after(2):
        await fetch_ahead_cancelled.wait()
    with anyio.fail_after(2):
        while _tasks() != tasks_before:
            await anyio.sleep(0.001)


async def test_aclose_waits_for_the_fetch_ahead_to_end(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    fetch_ahead_started = anyio.Event()
    fetch_ahead_cancelled = anyio.Event()

    async def respond(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        if cursor == "c2":
            fetch_ahead_started.set()
            try:
                await anyio.sleep_forever()
            finally:
                fetch_ahead_cancelled.set()
        return httpx.Response(200, json=page_body(cursor))

    httpx_mock.add_callback(respond, url=LIST_URL, is_reusable=True)
    with anyio.fail_after(2):
        async with paginate(client).pages() as pages:
            async for _ in pages:
                await fetch_ahead_started.wait()
                break
    assert fetch_ahead_cancelled.is_set()


async def test_closing_before_the_fetch_ahead_started_does_not_hang(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    serve_pages(httpx_mock)
    with anyio.fail_after(1):
        async with paginate(client).pages() as pages:
            async for _ in pages:
                break


async def test_an_error_on_a_later_page_reaches_the_caller(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json=page_body(None))
    httpx_mock.add_response(status_code=500)
    seen = []

    async def consume() -> None:
        async for item in paginate(client):
            seen.append(item.id)

    with pytest.raises(InternalServerError):
        await consume()
    assert seen == ["apr_1", "apr_2"]


async def test_the_fetch_ahead_can_be_cancelled_from_another_thread() -> None:
    started = anyio.Event()
    ended = anyio.Event()

    async def forever() -> None:
        started.set()
        await anyio.sleep_forever()

    cancel = spawn_detached(forever(), ended.set, name="test")
    with anyio.fail_after(2):
        await started.wait()
        await anyio.to_thread.run_sync(cancel)
        await ended.wait()


def _tasks() -> int:
    """How many tasks the event loop is running (trio: the system nursery's children)."""
    if sniffio.current_async_library() == "asyncio":
        return len(asyncio.all_tasks())
    import trio

    root = trio.lowlevel.current_root_task()
    return sum(len(nursery.child_tasks) for nursery in root.child_nurseries)
