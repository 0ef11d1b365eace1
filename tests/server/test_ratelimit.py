"""Per-key limits: the request rate and the number of open streams and long-polls."""

from __future__ import annotations

import anyio
import pytest

from .helpers import HTTPX_STREAM_GC, assert_error, client, next_event, sse

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings(HTTPX_STREAM_GC)]


async def test_over_the_rate_is_429_with_retry_after(start_broker) -> None:
    from conftest import new_tenant

    info = new_tenant(start_broker(rate_limit_per_second=0.5, rate_limit_burst=3))
    async with client(info.base_url, info.admin_key) as http:
        allowed = [await http.get("/v1/approvals") for _ in range(3)]
        limited = await http.get("/v1/approvals")
    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1


async def test_limits_are_per_key(start_broker) -> None:
    from conftest import new_tenant

    broker = start_broker(rate_limit_per_second=0.5, rate_limit_burst=1)
    first, second = new_tenant(broker), new_tenant(broker)
    async with (
        client(first.base_url, first.admin_key) as a,
        client(second.base_url, second.admin_key) as b,
    ):
        assert (await a.get("/v1/approvals")).status_code == 200
        assert (await a.get("/v1/approvals")).status_code == 429
        assert (await b.get("/v1/approvals")).status_code == 200


async def test_too_many_open_streams_is_429(start_broker) -> None:
    from conftest import new_tenant

    info = new_tenant(start_broker(max_open_streams_per_key=1))
    async with client(info.base_url, info.admin_key) as http:
        async with sse(http, "/v1/events/stream") as (_, stream):
            await next_event(stream)
            second = await http.get("/v1/events/stream")
            poll = await http.get("/v1/events?wait=5")
        # The server notices the closed stream within moments; bounded, not a fixed sleep.
        with anyio.fail_after(5):
            while (after := await http.get("/v1/events")).status_code != 200:
                await anyio.sleep(0.01)
    assert_error(second, 429, "too_many_streams")
    assert_error(poll, 429, "too_many_streams")
    assert second.headers["retry-after"] == "1"
    assert after.status_code == 200  # the slot came back when the stream closed
