"""Request plumbing: auth, base URL, timeouts, the concurrency bound, retries, error mapping.

This is the one module that speaks httpx (``_sse`` also reads httpx streaming responses);
swapping the HTTP library is a change here, not across the SDK.

Why requests in flight are bounded: with httpx 0.28 / httpcore 1.0 a pool that has more than
about ten requests in flight spends most of its CPU rescanning its connections
(encode/httpcore#1035), so each client keeps at most ``max_concurrency`` ordinary requests in
flight and sizes its pool to match. Server-sent-event streams live for minutes, so they get
a pool of their own and never hold one of those slots.
"""

from __future__ import annotations

import contextlib
import functools
import time
import uuid
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

import anyio
import httpx
import msgspec
import sniffio

from . import __version__
from ._retry import Backoff, DeadlineExceeded, call_with_retries, is_retryable, retry_after
from ._wire import decode_json, query_params
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    RateLimitError,
    SignoffError,
    status_error_class,
)
from .models import ErrorBody

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_CONCURRENCY",
    "STREAM_READ_TIMEOUT",
    "Transport",
    "HTTPCore",
    "decode",
    "status_error",
]

T = TypeVar("T")

Transport = Literal["httpx", "aiohttp"]

DEFAULT_BASE_URL = "http://127.0.0.1:8700"
DEFAULT_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0
DEFAULT_DEADLINE = 60.0
DEFAULT_MAX_RETRIES = 3
#: Measured with benchmarks/client_overhead.py (httpx 0.28.1, httpcore 1.0.9): client CPU
#: per request is lowest with 2-4 requests in flight, ~1.3x at 6, 1.6-1.9x at 8-10 and 6x
#: at 50. With transport="aiohttp" it stays flat, so a higher limit costs nothing there.
DEFAULT_MAX_CONCURRENCY = 4
#: The broker sends a heartbeat every 15 s; three missed heartbeats mean a dead connection.
STREAM_READ_TIMEOUT = 45.0
USER_AGENT = f"signoff-python/{__version__}"

_ERROR_DECODER = msgspec.json.Decoder(ErrorBody)
_SNIPPET_CHARS = 120


class HTTPCore:
    """Sends authenticated, retried, error-mapped requests for one client.

    Copies made by `derive` share the connection pool and the concurrency limiter and
    differ only in timeout, retries and deadline.
    """

    backoff: Backoff

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float,
        max_retries: int,
        deadline: float,
        max_concurrency: int,
        transport: Transport,
        http_client: httpx.AsyncClient | None,
        default_headers: Mapping[str, str] | None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.deadline = deadline
        self.backoff = Backoff()
        self.closed = False
        self._owns_pool = True
        self._pool = _Pool(transport, max_concurrency, http_client)
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            **(default_headers or {}),
        }

    def __repr__(self) -> str:
        return f"<HTTPCore {self.base_url} transport={self._pool.transport}>"

    @property
    def max_concurrency(self) -> int:
        """How many ordinary requests this core (and its copies) may have in flight at once."""
        return self._pool.max_concurrency

    def derive(self, *, timeout: float, max_retries: int, deadline: float) -> HTTPCore:
        """A core sharing this one's pool and limiter, with other call settings."""
        other = object.__new__(HTTPCore)
        other.__dict__.update(self.__dict__)
        other.timeout, other.max_retries, other.deadline = timeout, max_retries, deadline
        other.closed = False
        other._owns_pool = False
        return other

    async def aclose(self) -> None:
        """Stop this core; the pool closes only with the core that created it."""
        self.closed = True
        if self._owns_pool:
            await self._pool.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
        held: bool = False,
    ) -> httpx.Response:
        """Send one logical call (with its retries); returns a 2xx response, body read.

        ``held`` marks a request the broker may hold open (a long-poll): like a stream it
        goes outside the concurrency limiter and the ordinary pool, or a few long-polls would
        keep every other call waiting for up to 25 s.
        """
        pool = self._ready()
        method = method.upper()
        if timeout is None:
            call_timeout, deadline = self.timeout, self.deadline
        else:
            # An explicit per-call timeout longer than the deadline (a long-poll) widens it,
            # so that at least one attempt may use all of it.
            call_timeout, deadline = timeout, max(self.deadline, timeout)
        deadline_at = time.monotonic() + deadline
        sent = dict(self._headers)
        if content is not None:
            sent["Content-Type"] = "application/json"
        if method != "GET" or idempotency_key is not None:
            # Minted once per logical call: every retry carries the same key, so the broker
            # applies the call at most once.
            sent["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        if headers:
            sent.update(headers)
        url, query = self.base_url + path, query_params(params)
        request = pool.http.build_request(method, url, params=query, content=content, headers=sent)
        what = f"{method} {path}"
        try:
            return await self._attempt(request, call_timeout, deadline_at, deadline, what, held)
        except (APIConnectionError, APIStatusError) as exc:
            if self.max_retries == 0 or not is_retryable(exc):
                raise
            first_error = exc

        async def retry(number: int) -> httpx.Response:
            sent["Signoff-Retry-Count"] = str(number)
            request = pool.http.build_request(
                method, url, params=query, content=content, headers=sent
            )
            return await self._attempt(request, call_timeout, deadline_at, deadline, what, held)

        return await call_with_retries(
            retry,
            first_error,
            max_retries=self.max_retries,
            backoff=self.backoff,
            deadline_at=deadline_at,
            deadline=deadline,
            what=what,
        )

    async def _attempt(
        self,
        request: httpx.Request,
        call_timeout: float,
        deadline_at: float,
        deadline: float,
        what: str,
        held: bool = False,
    ) -> httpx.Response:
        remaining = deadline_at - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded(f"{what} ran out of its {deadline:g}s deadline")
        attempt_timeout = min(call_timeout, remaining)
        request.extensions["timeout"] = _timeouts(attempt_timeout)
        pool = self._pool
        response = None
        # httpx timeouts bound each connect/read/write; this scope bounds the whole attempt,
        # including the wait for a limiter slot.
        http = pool.stream_http if held else pool.http
        with anyio.move_on_after(remaining):
            async with contextlib.nullcontext() if held else pool.limiter:
                try:
                    response = await http.send(request)
                except (httpx.RequestError, httpx.StreamError) as exc:
                    raise self.transport_error(exc, what, attempt_timeout) from exc
                except RuntimeError as exc:
                    if not (self.closed or pool.closed):
                        raise
                    raise SignoffError(f"{what}: the client was closed during the call") from exc
        if response is None:
            raise DeadlineExceeded(f"{what} ran out of its {deadline:g}s deadline")
        if response.is_success:
            return response
        raise status_error(response)

    async def open_stream(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        read_timeout: float = STREAM_READ_TIMEOUT,
    ) -> httpx.Response:
        """Open a long-lived GET (server-sent events) outside the limiter; the caller must
        ``aclose()`` the returned 2xx response. Errors are mapped, never retried here."""
        pool = self._ready()
        sent = {**self._headers, **(headers or {})}
        timeout = httpx.Timeout(
            self.timeout, connect=min(CONNECT_TIMEOUT, self.timeout), read=read_timeout
        )
        request = pool.stream_http.build_request(
            "GET", self.base_url + path, params=query_params(params), headers=sent, timeout=timeout
        )
        what = f"GET {path}"
        try:
            response = await pool.stream_http.send(request, stream=True)
        except (httpx.RequestError, httpx.StreamError) as exc:
            raise self.transport_error(exc, what, self.timeout) from exc
        except RuntimeError as exc:
            if not (self.closed or pool.closed):
                raise
            raise SignoffError(f"{what}: the client was closed during the call") from exc
        if response.is_success:
            return response
        try:
            await response.aread()
        except (httpx.RequestError, httpx.StreamError):
            pass  # the status alone still says what went wrong
        finally:
            await response.aclose()
        raise status_error(response)

    def transport_error(
        self, exc: httpx.HTTPError | httpx.StreamError, what: str, timeout: float | None = None
    ) -> APIConnectionError:
        """The signoff error for an httpx failure below HTTP (raise it ``from exc``)."""
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            after = f" after {timeout:g}s" if timeout is not None else ""
            return APITimeoutError(f"{what} timed out{after} ({type(exc).__name__})")
        return APIConnectionError(
            f"{what} failed: could not talk to the broker at {self.base_url} ({reason})"
        )

    def _ready(self) -> _Pool:
        pool = self._pool
        if self.closed or pool.closed:
            raise SignoffError("this signoff client is closed; create a new one")
        if not pool.backend_checked:
            pool.check_backend()
        return pool


class _Pool:
    """The connections, limiter and transport that a client and its copies share."""

    def __init__(
        self, transport: Transport, max_concurrency: int, http_client: httpx.AsyncClient | None
    ) -> None:
        self.transport = transport
        self.closed = False
        self.backend_checked = False
        self.max_concurrency = max_concurrency
        self.limiter = anyio.Semaphore(max_concurrency, fast_acquire=True)
        self._user_client = http_client
        if transport == "aiohttp":
            self._aiohttp = _aiohttp_transport_class()
            self.check_backend()
        # No more keep-alive connections than requests in flight, and at most 20 (httpx's own
        # default) on the httpx transport: httpcore rescans every idle connection on each pool
        # operation, and at 50 kept alive it spends about twice the CPU per request (measured:
        # benchmarks/execute_many.py). aiohttp has no such cost.
        keepalive = max_concurrency if transport == "aiohttp" else min(max_concurrency, 20)
        limits = httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=keepalive)
        self.http = http_client or self._client(limits)
        self._stream_http: httpx.AsyncClient | None = http_client

    def _client(self, limits: httpx.Limits) -> httpx.AsyncClient:
        timeout = httpx.Timeout(DEFAULT_TIMEOUT, connect=CONNECT_TIMEOUT)
        if self.transport == "aiohttp":
            return httpx.AsyncClient(transport=self._aiohttp(limits=limits), timeout=timeout)
        return httpx.AsyncClient(limits=limits, timeout=timeout)

    @property
    def stream_http(self) -> httpx.AsyncClient:
        """The pool for long-lived streams, created on first use."""
        if self._stream_http is None:
            self._stream_http = self._client(
                httpx.Limits(max_connections=None, max_keepalive_connections=4)
            )
        return self._stream_http

    def check_backend(self) -> None:
        """Refuse the aiohttp transport under trio (aiohttp runs on asyncio only)."""
        if self.transport != "aiohttp":
            self.backend_checked = True
            return
        try:
            library = sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            return  # built outside an event loop: checked again on first use
        if library != "asyncio":
            raise SignoffError(
                f"transport='aiohttp' runs on asyncio only, not {library}; "
                "use transport='httpx' (the default)"
            )
        self.backend_checked = True

    async def aclose(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._user_client is not None:
            return  # the caller's client is the caller's to close
        with anyio.CancelScope(shield=True):
            await self.http.aclose()
            if self._stream_http is not None:
                await self._stream_http.aclose()


def _aiohttp_transport_class() -> Any:
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError as exc:
        raise SignoffError(
            "transport='aiohttp' needs the aiohttp extra: pip install 'signoff[aiohttp]'"
        ) from exc
    return AiohttpTransport


@functools.lru_cache(maxsize=32)
def _timeouts(seconds: float) -> dict[str, float | None]:
    return httpx.Timeout(seconds, connect=min(CONNECT_TIMEOUT, seconds)).as_dict()


def status_error(response: httpx.Response) -> APIStatusError:
    """The typed error for a non-2xx response whose body has been read."""
    status = response.status_code
    request_id = response.headers.get("x-request-id")
    try:
        content = response.content
    except httpx.ResponseNotRead:
        content = b""
    try:
        detail = _ERROR_DECODER.decode(content).error
        type_, message, details = detail.type, detail.message, detail.details
    except msgspec.DecodeError:
        type_, details = "http_error", None
        message = f"{status} {response.reason_phrase}".rstrip()
        if snippet := _snippet(content):
            message += f" (body: {snippet!r})"
    cls = status_error_class(status)
    if issubclass(cls, RateLimitError):
        return cls(
            message,
            retry_after=retry_after(response.headers),
            status_code=status,
            type=type_,
            details=details,
            request_id=request_id,
            response=response,
        )
    return cls(
        message,
        status_code=status,
        type=type_,
        details=details,
        request_id=request_id,
        response=response,
    )


def _snippet(content: bytes) -> str:
    text = " ".join(content[: _SNIPPET_CHARS * 4].decode("utf-8", "replace").split())
    return text if len(text) <= _SNIPPET_CHARS else text[: _SNIPPET_CHARS - 1] + "…"


def decode(response: httpx.Response, cast_to: type[T]) -> T:
    """Decode a 2xx body into ``cast_to`` (decoders are built once per type)."""
    request = response.request
    return decode_json(
        response.content,
        cast_to,
        what=f"the response to {request.method} {request.url.path} (status {response.status_code})",
        request_id=response.headers.get("x-request-id"),
    )
