"""Every error status maps to its class, with the broker's type, message and request id."""

from __future__ import annotations

import pickle
from collections.abc import AsyncIterator

import pytest
from pytest_httpx import HTTPXMock

from _helpers import API_KEY, approval, error_body, make_client
from signoff.client import AsyncSignoff
from signoff.errors import (
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    UnprocessableEntityError,
)
from signoff.models import Approval, Page

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client() -> AsyncIterator[AsyncSignoff]:
    async with make_client(max_retries=0) as client:
        yield client


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (413, RequestTooLargeError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (502, InternalServerError),
        (503, InternalServerError),
        (418, APIStatusError),
    ],
)
async def test_each_status_maps_to_its_error_class(
    client: AsyncSignoff, httpx_mock: HTTPXMock, status: int, error_class: type[APIStatusError]
) -> None:
    details = {"path": "$.expires_in"}
    httpx_mock.add_response(
        status_code=status,
        headers={"X-Request-Id": "req_abc"},
        content=error_body("some_type", "what went wrong", details),
    )
    with pytest.raises(APIStatusError) as caught:
        await client._get("/v1/approvals/apr_1", cast_to=Approval)
    err = caught.value
    assert type(err) is error_class
    assert err.status_code == status
    assert err.type == "some_type"
    assert err.message == "what went wrong"
    assert err.details == details
    assert err.request_id == "req_abc"
    assert err.response is not None
    assert err.response.status_code == status
    assert "req_abc" in str(err)


async def test_a_rate_limit_error_carries_retry_after(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(
        status_code=429,
        headers={"Retry-After": "7"},
        content=error_body("rate_limited", "too many requests"),
    )
    with pytest.raises(RateLimitError) as caught:
        await client._get("/v1/approvals/apr_1", cast_to=Approval)
    assert caught.value.retry_after == 7


async def test_an_html_502_from_a_proxy_is_a_typed_error_with_a_short_message(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    page = b"<html>\n<head><title>502 Bad Gateway</title></head>\n<body>" + b"x" * 5000
    httpx_mock.add_response(status_code=502, content=page, headers={"Content-Type": "text/html"})
    with pytest.raises(InternalServerError) as caught:
        await client._get("/v1/approvals/apr_1", cast_to=Approval)
    err = caught.value
    assert err.status_code == 502
    assert err.type == "http_error"
    assert err.message.startswith("502 Bad Gateway (body: '<html> <head><title>502 Bad Gateway")
    assert "\n" not in err.message
    assert len(err.message) < 200


async def test_an_empty_error_body_still_maps(client: AsyncSignoff, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=404)
    with pytest.raises(NotFoundError, match="404 Not Found"):
        await client._get("/v1/approvals/apr_1", cast_to=Approval)


async def test_a_2xx_with_a_garbage_body_is_a_validation_error(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(content=b"<html>maintenance</html>", headers={"X-Request-Id": "req_7"})
    with pytest.raises(APIResponseValidationError) as caught:
        await client._get("/v1/approvals/apr_1", cast_to=Approval)
    assert caught.value.request_id == "req_7"
    assert "GET /v1/approvals/apr_1" in str(caught.value)
    assert "req_7" in str(caught.value)


async def test_a_2xx_with_the_wrong_shape_is_a_validation_error(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={"data": [{"id": "apr_1"}], "next_cursor": None})
    with pytest.raises(APIResponseValidationError, match="not a valid Page"):
        await client._get("/v1/approvals", cast_to=Page[Approval])


async def test_errors_never_show_the_api_key(client: AsyncSignoff, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=401, content=error_body("unauthorized", "bad key"))
    with pytest.raises(AuthenticationError) as caught:
        await client._get("/v1/approvals/apr_1", cast_to=Approval)
    assert API_KEY not in str(caught.value)
    assert API_KEY not in repr(caught.value)
    assert API_KEY not in repr(caught.value.response.request.headers)  # type: ignore[union-attr]


async def test_status_errors_pickle_without_their_response(
    client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(status_code=409, content=error_body("conflict", "already decided"))
    with pytest.raises(ConflictError) as caught:
        await client._post("/v1/approvals/apr_1/decision", cast_to=Approval, body=approval())
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is ConflictError
    assert copy.message == "already decided"
    assert copy.response is None
