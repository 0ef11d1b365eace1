"""`BrokerThread`: start, stop, and shutdown ending streams and long-polls at once."""

from __future__ import annotations

import time

import anyio
import httpx
import pytest

from .helpers import HTTPX_STREAM_GC, client, create_approval, next_event, sse, until_streams_open

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings(HTTPX_STREAM_GC)]


async def test_stop_ends_an_open_stream_and_long_poll_promptly(start_broker) -> None:
    from conftest import new_tenant

    # uvicorn would wait 20 s for open connections; the broker must end them long before.
    broker = start_broker(heartbeat_interval=30.0, graceful_shutdown_timeout=20.0)
    info = new_tenant(broker)
    results: dict[str, object] = {}
    async with client(info.base_url, info.admin_key) as http:
        approval = await create_approval(http)
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tasks:

                async def long_poll() -> None:
                    results["poll"] = await http.get(
                        f"/v1/approvals/{approval['id']}?wait=25&after_version=1"
                    )

                tasks.start_soon(long_poll)
                async with sse(http, "/v1/events/stream") as (_, stream):
                    await next_event(stream)
                    await until_streams_open(broker, info.admin_key, 2)
                    started = time.monotonic()
                    await anyio.to_thread.run_sync(broker.stop)
                    results["stop"] = time.monotonic() - started
                    results["rest"] = [item async for item in stream]
    assert results["stop"] < 10  # far below the 20 s uvicorn would have waited
    assert results["rest"] == []
    poll = results["poll"]
    assert isinstance(poll, httpx.Response)
    assert (poll.status_code, poll.json()["status"]) == (200, "pending")


def test_start_stop_is_idempotent_and_a_temporary_database_is_removed() -> None:
    import os

    from signoff.server import BrokerThread

    broker = BrokerThread()
    broker.start()
    assert broker.base_url.startswith("http://127.0.0.1:")
    assert broker.bootstrap() is not None  # the empty database got its default tenant
    assert broker.bootstrap() is None
    assert broker.ensure_admin_key().startswith("sgn_live_")
    path = broker.db_path
    broker.stop()
    broker.stop()
    assert not os.path.exists(path)


def test_a_broker_that_will_not_stop_keeps_its_temporary_database(caplog) -> None:
    import logging
    import os
    import threading

    from signoff.server import BrokerThread

    caplog.set_level(logging.WARNING, logger="signoff.server")
    broker = BrokerThread()
    broker.start()
    stuck = threading.Event()
    try:
        # Block the broker's event loop: it cannot see that it should exit until released.
        loop = broker._loop
        assert loop is not None
        loop.call_soon_threadsafe(stuck.wait, 30)
        broker.stop(timeout=0.2)
        kept = os.path.exists(broker.db_path)
    finally:
        stuck.set()
        broker.stop()
    assert kept
    assert "did not stop within 0.4 s" in caplog.text
    assert not os.path.exists(broker.db_path)  # removed once the thread really ended


def test_a_port_in_use_fails_to_start(broker) -> None:
    from signoff.server import BrokerThread

    with pytest.raises(OSError, match="in use"):
        BrokerThread(port=broker.port).start()
