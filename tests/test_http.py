"""Request plumbing: headers, retries, Retry-After, idempotency keys, the deadline."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from types import SimpleNamespace

import anyio
import httpx
import pytest
import stamina
from pytest_httpx import HTTPXMock

from _helpers import API_KEY, BASE_URL, approval, error_body, make_client
from signoff import __version__
from signoff._retry import MAX_RETRY_AFTER, retry_after
from signoff.client import AsyncSignoff
from signoff.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InternalServerError,
    RateLimitError,
)
from signoff.models import Approval

pytestmark = pytest.mark.anyio

URL = f"{BASE_URL}/v1/approvals"


@pytest.fixture
async def client() -> AsyncIterator[AsyncSignoff]:
    async with make_client() as client:
        yield client


@pytest.fixture
def retry_waits() -> Iterator[list[float]]:
    """The waits stamina actually scheduled before each retry, in order."""
    waits: list[float] = []
    stamina.instrumentation.set_on_retry_hooks([lambda details: waits.append(details.wait_for)])
    yield waits
    stamina.instrumentation.set_on_retry_hooks(None)


# -- what every request carries ------------------------------------------------------------


async def test_requests_carry_auth_user_agent_and_json_headers(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(method="POST", url=URL, status_code=201, json=approval())
    await client._post("/v1/approvals", cast_to=Approval, body={"action": "payments.refund"})
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["user-agent"] == f"signoff-python/{__version__}"
    assert request.headers["content-type"] == "application/json"
    assert request.content == b'{"action":"payments.refund"}'
    assert "signoff-retry-count" not in request.headers


async def test_query_params_drop_none_join_sequences_and_spell_booleans(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={"data": [], "next_cursor": None})
    params = {"status": ["pending", "denied"], "limit": 5, "wait": None, "verbose": True}
    await client.request("GET", "/v1/approvals", params=params)
    request = httpx_mock.get_request()
    assert request is not None
    assert dict(request.url.params) == {"status": "pending,denied", "limit": "5", "verbose": "true"}


async def test_default_headers_are_sent(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=approval())
    async with make_client(default_headers={"X-Team": "payments"}) as client:
        await client.request("GET", "/v1/approvals/apr_1")
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["x-team"] == "payments"


# -- idempotency keys ----------------------------------------------------------------------


async def test_every_attempt_of_a_post_carries_the_same_idempotency_key(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(method="POST", status_code=503)
    httpx_mock.add_exception(httpx.ConnectError("connection refused"), method="POST")
    httpx_mock.add_response(method="POST", status_code=201, json=approval())
    await client._post("/v1/approvals", cast_to=Approval, body={"action": "payments.refund"})
    requests = httpx_mock.get_requests()
    keys = {request.headers["idempotency-key"] for request in requests}
    assert len(requests) == 3
    assert len(keys) == 1
    assert uuid.UUID(keys.pop()).version == 4
    assert [r.headers.get("signoff-retry-count") for r in requests] == [None, "1", "2"]


async def test_a_caller_supplied_idempotency_key_is_used_as_is(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(method="POST", status_code=502)
    httpx_mock.add_response(method="POST", status_code=201, json=approval())
    await client._post("/v1/approvals", cast_to=Approval, body={}, idempotency_key="refund-42")
    assert [r.headers["idempotency-key"] for r in httpx_mock.get_requests()] == ["refund-42"] * 2


async def test_each_logical_call_gets_its_own_key(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(method="DELETE", json=approval(), is_reusable=True)
    await client.request("DELETE", "/v1/policies/pol_1")
    await client.request("DELETE", "/v1/policies/pol_1")
    first, second = httpx_mock.get_requests()
    assert first.headers["idempotency-key"] != second.headers["idempotency-key"]


async def test_gets_carry_no_idempotency_key(client: AsyncSignoff, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=500)
    httpx_mock.add_response(json=approval())
    await client._get("/v1/approvals/apr_1", cast_to=Approval)
    assert all("idempotency-key" not in r.headers for r in httpx_mock.get_requests())


# -- what is retried -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_retryable_statuses_are_retried(
    client: AsyncSignoff, httpx_mock: HTTPXMock, status: int
) -> None:
    httpx_mock.add_response(status_code=status)
    httpx_mock.add_response(json=approval())
    result = await client._get("/v1/approvals/apr_1", cast_to=Approval)
    assert result.id == "apr_1"
    assert len(httpx_mock.get_requests()) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_client_errors_and_conflicts_are_never_retried(
    client: AsyncSignoff, httpx_mock: HTTPXMock, status: int
) -> None:
    httpx_mock.add_response(method="POST", status_code=status, content=error_body("x", "no"))
    with pytest.raises(APIStatusError) as caught:
        await client._post("/v1/approvals/apr_1/decision", cast_to=Approval, body={})
    assert caught.value.status_code == status
    assert len(httpx_mock.get_requests()) == 1


async def test_a_request_still_in_progress_is_asked_again_after_retry_after(
    client: AsyncSignoff, httpx_mock: HTTPXMock, retry_waits: list[float]
) -> None:
    busy = error_body("idempotency_request_in_progress", "the first request is still running")
    httpx_mock.add_response(
        method="POST", status_code=409, content=busy, headers={"Retry-After": "0.03"}
    )
    httpx_mock.add_response(method="POST", status_code=201, json=approval())
    await client._post("/v1/actions", cast_to=Approval, body={}, idempotency_key="run-once")
    requests = httpx_mock.get_requests()
    assert [r.headers["idempotency-key"] for r in requests] == ["run-once"] * 2
    assert retry_waits == [0.03]


@pytest.mark.parametrize("type_", ["conflict", "approval_not_pending", "secret_not_replayable"])
async def test_every_other_conflict_is_never_retried(
    client: AsyncSignoff, httpx_mock: HTTPXMock, type_: str
) -> None:
    httpx_mock.add_response(
        method="POST",
        status_code=409,
        content=error_body(type_, "no"),
        headers={"Retry-After": "0"},
    )
    with pytest.raises(APIStatusError) as caught:
        await client._post("/v1/approvals/apr_1/decision", cast_to=Approval, body={})
    assert caught.value.type == type_
    assert len(httpx_mock.get_requests()) == 1


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ReadError("reset"), httpx.RemoteProtocolError("eof")],
)
async def test_connection_errors_are_retried(
    client: AsyncSignoff, httpx_mock: HTTPXMock, error: httpx.TransportError
) -> None:
    httpx_mock.add_exception(error)
    httpx_mock.add_response(json=approval())
    assert (await client._get("/v1/approvals/apr_1", cast_to=Approval)).id == "apr_1"
    assert len(httpx_mock.get_requests()) == 2


async def test_timeouts_are_retried_then_raised_as_api_timeout_error(
    httpx_mock: HTTPXMock,
) -> None:
    for _ in range(3):
        httpx_mock.add_exception(httpx.ReadTimeout("slow"))
    async with make_client(max_retries=2) as client:
        with pytest.raises(APITimeoutError) as caught:
            await client._get("/v1/approvals/apr_1", cast_to=Approval)
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert len(httpx_mock.get_requests()) == 3


async def test_connection_errors_map_to_api_connection_error_with_cause(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_exception(httpx.ConnectError("connection refused"))
    async with make_client(max_retries=0) as client:
        with pytest.raises(APIConnectionError, match="connection refused") as caught:
            await client._get("/v1/approvals/apr_1", cast_to=Approval)
    assert not isinstance(caught.value, APITimeoutError)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def test_max_retries_zero_sends_once(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=503)
    async with make_client(max_retries=0) as client:
        with pytest.raises(InternalServerError):
            await client._get("/v1/approvals/apr_1", cast_to=Approval)
    assert len(httpx_mock.get_requests()) == 1


async def test_retries_stop_after_max_retries(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=502, is_reusable=True)
    async with make_client(max_retries=2) as client:
        with pytest.raises(InternalServerError) as caught:
            await client._get("/v1/approvals/apr_1", cast_to=Approval)
    assert caught.value.status_code == 502
    assert len(httpx_mock.get_requests()) == 3


async def test_retries_use_jittered_exponential_backoff(
    client: AsyncSignoff, httpx_mock: HTTPXMock, retry_waits: list[float]
) -> None:
    for _ in range(3):
        httpx_mock.add_response(status_code=503)
    httpx_mock.add_response(json=approval())
    await client._get("/v1/approvals/apr_1", cast_to=Approval)
    # Backoff(initial=0.001, maximum=0.004): retry n waits within [c/2, c], c = 0.001 * 2**(n-1)
    ceilings = [0.001, 0.002, 0.004]
    assert len(retry_waits) == 3
    assert all(c / 2 <= wait <= c for wait, c in zip(retry_waits, ceilings, strict=True))


async def test_retries_are_logged_at_debug_without_headers(
    client: AsyncSignoff, httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    httpx_mock.add_response(status_code=503)
    httpx_mock.add_response(json=approval())
    with caplog.at_level(logging.DEBUG, logger="signoff"):
        await client._get("/v1/approvals/apr_1", cast_to=Approval)
    messages = [r.getMessage() for r in caplog.records if r.name == "signoff"]
    assert len(messages) == 1
    assert "GET /v1/approvals/apr_1" in messages[0]
    assert "status 503" in messages[0]
    assert API_KEY not in caplog.text


# -- Retry-After ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after": "-4"}, 0.0),
        ({"retry-after-ms": "150"}, 0.15),
        ({"retry-after-ms": "150", "retry-after": "9"}, 0.15),
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
        ({"retry-after": "Sat, 21 Nov 2026 10:00:05 GMT"}, 5.0),
        ({"retry-after": "Sat, 21 Nov 2026 09:59:00 GMT"}, 0.0),
        ({"retry-after": "Sat, 21 Nov 2026 10:00:07 -0000"}, 7.0),
        ({"retry-after": "tomorrow"}, None),
        ({"retry-after": "nan"}, None),
        ({}, None),
    ],
)
def test_retry_after_forms(headers: dict[str, str], expected: float | None) -> None:
    now = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC).timestamp()
    assert retry_after(headers, now=now) == expected


async def test_retry_after_seconds_replaces_the_backoff(
    client: AsyncSignoff, httpx_mock: HTTPXMock, retry_waits: list[float]
) -> None:
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "0.03"})
    httpx_mock.add_response(json=approval())
    await client._get("/v1/approvals/apr_1", cast_to=Approval)
    assert retry_waits == [0.03]


async def test_retry_after_ms_replaces_the_backoff(
    client: AsyncSignoff, httpx_mock: HTTPXMock, retry_waits: list[float]
) -> None:
    httpx_mock.add_response(status_code=503, headers={"retry-after-ms": "20"})
    httpx_mock.add_response(json=approval())
    await client._get("/v1/approvals/apr_1", cast_to=Approval)
    assert retry_waits == [0.02]


async def test_retry_after_http_date_replaces_the_backoff(
    client: AsyncSignoff,
    httpx_mock: HTTPXMock,
    retry_waits: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    then = 1_800_000_000
    fake_time = SimpleNamespace(time=lambda: then - 0.04, monotonic=time.monotonic)
    monkeypatch.setattr("signoff._retry.time", fake_time)
    date = format_datetime(datetime.fromtimestamp(then, UTC), usegmt=True)
    httpx_mock.add_response(status_code=429, headers={"Retry-After": date})
    httpx_mock.add_response(json=approval())
    await client._get("/v1/approvals/apr_1", cast_to=Approval)
    assert retry_waits == [pytest.approx(0.04)]


async def test_retry_after_above_the_cap_fails_fast_with_retry_after_set(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    asked = MAX_RETRY_AFTER + 90
    httpx_mock.add_response(
        status_code=429,
        headers={"Retry-After": str(int(asked)), "X-Request-Id": "req_9"},
        content=error_body("rate_limited", "slow down"),
    )
    started = time.monotonic()
    with pytest.raises(RateLimitError) as caught:
        await client._get("/v1/approvals/apr_1", cast_to=Approval)
    assert time.monotonic() - started < 1
    assert caught.value.retry_after == asked
    assert caught.value.request_id == "req_9"
    assert len(httpx_mock.get_requests()) == 1


async def test_retry_after_beyond_the_deadline_fails_fast(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "5"})
    async with make_client(deadline=0.5) as client:
        with pytest.raises(RateLimitError) as caught:
            await client._get("/v1/approvals/apr_1", cast_to=Approval)
    assert caught.value.retry_after == 5
    assert len(httpx_mock.get_requests()) == 1


# -- the deadline --------------------------------------------------------------------------


async def test_the_deadline_bounds_all_attempts_together(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=503, is_reusable=True)
    async with make_client(deadline=0.3, max_retries=10_000) as client:
        client._http.backoff = type(client._http.backoff)(initial=0.01, maximum=0.02)
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match=r"0\.3s deadline") as caught:
            await client._get("/v1/approvals/apr_1", cast_to=Approval)
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 1.0
    assert isinstance(caught.value.__cause__, InternalServerError)
    assert 5 < len(httpx_mock.get_requests()) < 100


async def test_the_deadline_cuts_a_hanging_attempt_short(httpx_mock: HTTPXMock) -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(30)
        raise AssertionError("the deadline should have cancelled this")

    httpx_mock.add_callback(hang)
    async with make_client(timeout=20, deadline=0.2) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="deadline"):
            await client._get("/v1/approvals/apr_1", cast_to=Approval)
    assert time.monotonic() - started < 1.5


async def test_per_attempt_timeout_is_shrunk_to_what_the_deadline_leaves(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(json=approval())
    async with make_client(timeout=30, deadline=2) as client:
        await client._get("/v1/approvals/apr_1", cast_to=Approval)
    request = httpx_mock.get_request()
    assert request is not None
    timeouts = request.extensions["timeout"]
    assert 1.5 < timeouts["read"] <= 2
    assert timeouts["connect"] == timeouts["read"]


async def test_a_per_call_timeout_is_used_for_each_attempt(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=approval())
    async with make_client(timeout=30, deadline=40) as client:
        await client._get("/v1/approvals/apr_1", cast_to=Approval, timeout=10)
    request = httpx_mock.get_request()
    assert request is not None
    assert request.extensions["timeout"] == {"connect": 5.0, "read": 10, "write": 10, "pool": 10}


async def test_a_long_per_call_timeout_widens_the_deadline(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=approval())
    async with make_client(timeout=30, deadline=5) as client:
        await client._get("/v1/approvals/apr_1", cast_to=Approval, timeout=35)
    request = httpx_mock.get_request()
    assert request is not None
    assert request.extensions["timeout"]["read"] == pytest.approx(35, abs=0.5)
