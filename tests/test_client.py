"""AsyncSignoff: configuration, lifecycle, shared pools, transports, secrecy of the key."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
import sniffio
from pytest_httpx import HTTPXMock

from _helpers import API_KEY, BASE_URL, approval, error_body, make_client
from _scripted_server import Reply, Request, scripted_server
from signoff._http import DEFAULT_BASE_URL
from signoff.client import AsyncSignoff
from signoff.errors import APIConnectionError, NotFoundError, SignoffError
from signoff.models import Approval

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGNOFF_API_KEY", raising=False)
    monkeypatch.delenv("SIGNOFF_BASE_URL", raising=False)


# -- configuration -------------------------------------------------------------------------


async def test_key_and_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNOFF_API_KEY", API_KEY)
    monkeypatch.setenv("SIGNOFF_BASE_URL", "https://signoff.example.com/")
    async with AsyncSignoff() as client:
        assert client.base_url == "https://signoff.example.com"
        assert client._http._headers["Authorization"] == f"Bearer {API_KEY}"


async def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNOFF_API_KEY", "sgn_from_env")
    monkeypatch.setenv("SIGNOFF_BASE_URL", "https://env.example.com")
    async with AsyncSignoff(api_key=API_KEY, base_url="http://127.0.0.1:9") as client:
        assert client.base_url == "http://127.0.0.1:9"
        assert client._http._headers["Authorization"] == f"Bearer {API_KEY}"


async def test_the_url_defaults_to_the_local_broker() -> None:
    async with AsyncSignoff(api_key=API_KEY) as client:
        assert client.base_url == DEFAULT_BASE_URL == "http://127.0.0.1:8700"


def test_a_missing_key_names_the_environment_variable() -> None:
    with pytest.raises(SignoffError, match="SIGNOFF_API_KEY"):
        AsyncSignoff()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": -1}, "timeout must be a positive"),
        ({"timeout": 0}, "timeout must be a positive"),
        ({"timeout": float("nan")}, "timeout must be a positive"),
        ({"deadline": float("inf")}, "deadline must be a positive"),
        ({"max_retries": -1}, "max_retries must be 0 or more"),
        ({"max_concurrency": 0}, "max_concurrency must be at least 1"),
        ({"transport": "curl"}, "transport must be"),
        ({"base_url": "broker.local:8700"}, "base_url must start with"),
    ],
)
def test_bad_arguments_are_refused_up_front(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AsyncSignoff(api_key=API_KEY, **options)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"timeout": "30"}, "timeout must be a number"), ({"max_retries": 2.5}, "must be an int")],
)
def test_arguments_of_the_wrong_type_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        AsyncSignoff(api_key=API_KEY, **options)


def test_a_key_with_whitespace_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="api_key") as caught:
        AsyncSignoff(api_key="sgn_live_abc\r\nX-Evil: 1")
    assert "sgn_live_abc" not in str(caught.value)


async def test_the_key_never_appears_in_reprs() -> None:
    async with make_client() as client:
        for text in (repr(client), str(client), repr(client._http), repr(vars(client))):
            assert API_KEY not in text


async def test_the_key_never_appears_in_connection_errors(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"))
    async with make_client(max_retries=0) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client._get("/v1/approvals/apr_1", cast_to=Approval)
    assert API_KEY not in str(caught.value)
    assert API_KEY not in repr(caught.value)


# -- lifecycle -----------------------------------------------------------------------------


def test_an_unclosed_client_warns_when_collected() -> None:
    clients = [make_client()]
    with pytest.warns(ResourceWarning, match="never closed"):
        clients.clear()  # the last reference: collected at once


async def test_a_closed_client_does_not_warn() -> None:
    client = make_client()
    await client.aclose()
    await client.aclose()  # idempotent
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del client
        gc.collect()


def test_internal_clients_can_opt_out_of_the_warning() -> None:
    client = AsyncSignoff(api_key=API_KEY, _warn_unclosed=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del client
        gc.collect()


async def test_a_closed_client_refuses_requests() -> None:
    client = make_client()
    await client.aclose()
    assert client.is_closed
    with pytest.raises(SignoffError, match="closed"):
        await client.request("GET", "/v1/approvals")


async def test_a_client_passed_in_is_left_open(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=approval())
    async with httpx.AsyncClient() as mine:
        async with AsyncSignoff(api_key=API_KEY, base_url=BASE_URL, http_client=mine) as client:
            await client._get("/v1/approvals/apr_1", cast_to=Approval)
        assert not mine.is_closed
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["authorization"] == f"Bearer {API_KEY}"


# -- with_options --------------------------------------------------------------------------


async def test_with_options_shares_the_pool_and_limiter(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=approval(), is_reusable=True)
    async with make_client() as client:
        fast = client.with_options(timeout=2, max_retries=0, deadline=5)
        assert (fast.timeout, fast.max_retries, fast.deadline) == (2, 0, 5)
        assert (client.timeout, client.max_retries) == (30, 3)
        assert fast._http._pool is client._http._pool
        await fast._get("/v1/approvals/apr_1", cast_to=Approval)
        await fast.aclose()
        assert fast.is_closed
        assert not client.is_closed
        await client._get("/v1/approvals/apr_1", cast_to=Approval)  # the pool is still open
        kept = client.with_options(timeout=3)
    assert client._http._pool.http.is_closed
    with pytest.raises(SignoffError, match="closed"):
        await kept._get("/v1/approvals/apr_1", cast_to=Approval)


async def test_with_options_validates_and_keeps_what_is_not_given() -> None:
    async with make_client(timeout=7) as client:
        with pytest.raises(ValueError, match="deadline"):
            client.with_options(deadline=-1)
        assert client.with_options(max_retries=1).timeout == 7


def test_a_derived_client_does_not_warn_when_collected() -> None:
    client = AsyncSignoff(api_key=API_KEY, _warn_unclosed=False)
    derived = client.with_options(timeout=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del derived
        gc.collect()


# -- resources are lazy ----------------------------------------------------------------------


def test_importing_signoff_loads_neither_httpx_nor_the_client() -> None:
    code = (
        "import sys, signoff; "
        "print(sorted(m for m in ('httpx', 'signoff.client', 'stamina', 'signoff.resources')"
        " if m in sys.modules))"
    )
    assert _run(code) == "[]"


def test_the_client_loads_no_resource_stamina_or_sse_until_used() -> None:
    code = (
        "import sys; from signoff import AsyncSignoff; "
        "print(sorted(m for m in sys.modules if m.startswith(('signoff.resources', 'stamina',"
        " 'tenacity', 'signoff._sse'))))"
    )
    assert _run(code) == "[]"


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.strip()


# -- transports: the same requests through httpx and through aiohttp ---------------------------

TRANSPORTS = ["httpx", "aiohttp"]


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest, anyio_backend: str) -> str:
    if request.param == "aiohttp" and anyio_backend != "asyncio":
        pytest.skip("aiohttp runs on asyncio only")
    return str(request.param)


@pytest.fixture
async def scripted_broker() -> AsyncIterator[tuple[str, list[Request]]]:
    """A scripted broker: /v1/approvals/apr_1 answers; POST /v1/approvals fails once."""
    seen: list[Request] = []

    async def handler(request: Request, reply: Reply) -> None:
        seen.append(request)
        headers = {"X-Request-Id": f"req_{len(seen)}"}
        if request.method == "GET" and request.path == "/v1/approvals/apr_1":
            await reply.send(200, json.dumps(approval()).encode(), headers=headers)
        elif request.method == "POST" and request.path == "/v1/approvals":
            posts = [r for r in seen if r.method == "POST"]
            if len(posts) == 1:
                await reply.send(503, error_body("unavailable", "try again"), headers=headers)
            else:
                body = json.loads(request.body)
                await reply.send(201, json.dumps(approval(**body)).encode(), headers=headers)
        else:
            await reply.send(404, error_body("not_found", "no such approval"), headers=headers)

    async with scripted_server(handler) as url:
        yield url, seen


async def test_a_get_decodes_through_either_transport(
    transport: str, scripted_broker: tuple[str, list[Request]]
) -> None:
    url, seen = scripted_broker
    async with make_client(url, transport=transport) as client:
        result = await client._get("/v1/approvals/apr_1", cast_to=Approval)
    assert result.id == "apr_1"
    assert seen[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert seen[0].headers["user-agent"].startswith("signoff-python/")


async def test_a_post_is_retried_with_one_key_through_either_transport(
    transport: str, scripted_broker: tuple[str, list[Request]]
) -> None:
    url, seen = scripted_broker
    async with make_client(url, transport=transport) as client:
        result = await client._post("/v1/approvals", cast_to=Approval, body={"action": "db.delete"})
    assert result.action == "db.delete"
    first, second = seen
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert second.headers["signoff-retry-count"] == "1"
    assert json.loads(second.body) == {"action": "db.delete"}


async def test_errors_map_through_either_transport(
    transport: str, scripted_broker: tuple[str, list[Request]]
) -> None:
    url, _ = scripted_broker
    async with make_client(url, transport=transport) as client:
        with pytest.raises(NotFoundError) as caught:
            await client._get("/v1/approvals/apr_404", cast_to=Approval)
    assert caught.value.request_id == "req_1"
    assert caught.value.message == "no such approval"


async def test_connection_errors_map_through_either_transport(transport: str) -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await listener.aclose()  # nothing listens on this port any more
    async with make_client(f"http://127.0.0.1:{port}", transport=transport, max_retries=1) as c:
        with pytest.raises(APIConnectionError):
            await c._get("/v1/approvals/apr_1", cast_to=Approval)


async def test_the_aiohttp_transport_refuses_trio() -> None:
    if sniffio.current_async_library() != "trio":
        pytest.skip("checks the trio refusal")
    with pytest.raises(SignoffError, match="asyncio only"):
        make_client(transport="aiohttp")


def test_the_aiohttp_transport_without_its_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "httpx_aiohttp", None)
    with pytest.raises(SignoffError, match=r"signoff\[aiohttp\]"):
        make_client(transport="aiohttp")


def test_http_client_and_aiohttp_are_exclusive() -> None:
    with pytest.raises(ValueError, match="not both"):
        AsyncSignoff(api_key=API_KEY, transport="aiohttp", http_client=httpx.AsyncClient())


async def test_resources_load_on_first_use_and_are_cached() -> None:
    async with make_client() as client:
        for name in ("approvals", "events", "policies", "api_keys"):
            resource = getattr(client, name)
            assert getattr(client, name) is resource
            assert resource._client is client
