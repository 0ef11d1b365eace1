"""AsyncSignoff: the async client. Resources hang off it; requests go through `HTTPCore`."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ._http import (
    DEFAULT_BASE_URL,
    DEFAULT_DEADLINE,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    STREAM_READ_TIMEOUT,
    HTTPCore,
    Transport,
    decode,
)
from ._pagination import AsyncPaginator
from ._wire import encode_json, query_params
from .errors import SignoffError
from .models import Page

if TYPE_CHECKING:
    import httpx

    from ._sse import EventSource
    from ._waits import WaitHub
    from .resources.actions import Actions
    from .resources.api_keys import ApiKeys
    from .resources.approvals import Approvals
    from .resources.audit import Audit
    from .resources.connections import Connections
    from .resources.events import Events
    from .resources.policies import Policies

__all__ = ["AsyncSignoff"]

T = TypeVar("T")

API_KEY_ENV = "SIGNOFF_API_KEY"
BASE_URL_ENV = "SIGNOFF_BASE_URL"


class AsyncSignoff:
    """The async signoff client (asyncio and trio): one connection pool, retried calls.

    ```python
    async with AsyncSignoff() as client:     # SIGNOFF_API_KEY, SIGNOFF_BASE_URL
        approval = await client.approvals.create(action="payments.refund")
    ```

    ``timeout`` bounds each attempt, ``deadline`` all attempts of one call together, and
    ``max_retries`` how many times a failed call is tried again (0: never). At most
    ``max_concurrency`` requests are in flight at once (streams excepted); more wait their
    turn, because httpx's pool spends far more CPU per request beyond a handful in flight.
    ``transport="aiohttp"`` (asyncio only, ``pip install 'signoff[aiohttp]'``) sends the
    same requests through aiohttp: about 2.5x less CPU per request, and a higher
    ``max_concurrency`` costs nothing there. Close the client with ``async with`` or
    ``aclose()``.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        deadline: float = DEFAULT_DEADLINE,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        transport: Transport = "httpx",
        http_client: httpx.AsyncClient | None = None,
        default_headers: Mapping[str, str] | None = None,
        _warn_unclosed: bool = True,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        if not key:
            raise SignoffError(
                f"no API key: pass api_key= to AsyncSignoff or set the {API_KEY_ENV} "
                "environment variable"
            )
        if not key.isprintable() or any(char.isspace() for char in key):
            raise ValueError("api_key must be one word of printable characters")
        url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, not {url!r}")
        _check_settings(timeout=timeout, max_retries=max_retries, deadline=deadline)
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
            raise TypeError(f"max_concurrency must be an int, not {max_concurrency!r}")
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, not {max_concurrency}")
        if transport not in ("httpx", "aiohttp"):
            raise ValueError(f"transport must be 'httpx' or 'aiohttp', not {transport!r}")
        if http_client is not None and transport != "httpx":
            raise ValueError("pass either http_client= or transport='aiohttp', not both")
        self._http = HTTPCore(
            api_key=key,
            base_url=url,
            timeout=timeout,
            max_retries=max_retries,
            deadline=deadline,
            max_concurrency=max_concurrency,
            transport=transport,
            http_client=http_client,
            default_headers=default_headers,
        )
        self._warn_unclosed = _warn_unclosed

    def __repr__(self) -> str:
        return f"<AsyncSignoff base_url={self.base_url!r}>"

    @property
    def base_url(self) -> str:
        """The broker's URL (no trailing slash)."""
        return self._http.base_url

    @property
    def timeout(self) -> float:
        """Seconds allowed for each attempt of a call."""
        return self._http.timeout

    @property
    def max_retries(self) -> int:
        """How many times a failed call is tried again."""
        return self._http.max_retries

    @property
    def deadline(self) -> float:
        """Seconds allowed for all attempts of one call together."""
        return self._http.deadline

    @property
    def max_concurrency(self) -> int:
        """The most ordinary requests this client has in flight at once."""
        return self._http.max_concurrency

    @property
    def is_closed(self) -> bool:
        """True once `aclose` has run."""
        return self._http.closed

    def with_options(
        self,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
    ) -> AsyncSignoff:
        """A client with other settings sharing this one's connections and limiter.

        Closing the copy leaves the pool open; closing this client closes it for both.
        """
        timeout = self.timeout if timeout is None else timeout
        max_retries = self.max_retries if max_retries is None else max_retries
        deadline = self.deadline if deadline is None else deadline
        _check_settings(timeout=timeout, max_retries=max_retries, deadline=deadline)
        copy = object.__new__(AsyncSignoff)
        copy._http = self._http.derive(timeout=timeout, max_retries=max_retries, deadline=deadline)
        copy._warn_unclosed = False  # it owns no connections
        return copy

    async def aclose(self) -> None:
        """Close the connections (idempotent); a client passed in as ``http_client`` is
        left open for its owner. Waits still running raise `SignoffError`."""
        hub: WaitHub | None = self.__dict__.get("_wait_hub")
        if hub is not None:
            await hub.aclose()
        await self._http.aclose()

    async def __aenter__(self) -> AsyncSignoff:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # Only a warning: closing needs the event loop, which may be gone by now, and
        # scheduling work from a finalizer is what breaks other SDKs at exit.
        http = getattr(self, "_http", None)
        if http is not None and not http.closed and getattr(self, "_warn_unclosed", False):
            warnings.warn(
                f"{self!r} was never closed; use 'async with AsyncSignoff()' or "
                "'await client.aclose()'",
                ResourceWarning,
                stacklevel=2,
                source=self,
            )

    # Resources: imported on first use so that importing signoff stays cheap.

    @cached_property
    def approvals(self) -> Approvals:
        """Human decisions on proposed calls."""
        from .resources.approvals import Approvals

        return Approvals(self)

    @cached_property
    def events(self) -> Events:
        """The tenant's event log, as pages or as a stream."""
        from .resources.events import Events

        return Events(self)

    @cached_property
    def policies(self) -> Policies:
        """Rules that allow, deny or require a human."""
        from .resources.policies import Policies

        return Policies(self)

    @cached_property
    def api_keys(self) -> ApiKeys:
        """API keys and their scopes."""
        from .resources.api_keys import ApiKeys

        return ApiKeys(self)

    @cached_property
    def connections(self) -> Connections:
        """Connectors bound to config and secrets, and the action types they offer."""
        from .resources.connections import Connections

        return Connections(self)

    @cached_property
    def actions(self) -> Actions:
        """Governed actions: run one or many, follow them, fetch their evidence."""
        from .resources.actions import Actions

        return Actions(self)

    @cached_property
    def audit(self) -> Audit:
        """The hash-chained audit log."""
        from .resources.audit import Audit

        return Audit(self)

    @cached_property
    def _wait_hub(self) -> WaitHub:
        """Serves every ``wait()`` of this client from one event stream."""
        from ._waits import WaitHub

        return WaitHub(self)

    # The escape hatch.

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
        held: bool = False,
    ) -> httpx.Response:
        """Call any API route: authenticated, retried and error-mapped like every method.

        ``json`` may be a msgspec Struct, a dict or None; non-GET calls carry an
        ``Idempotency-Key`` (``idempotency_key`` or a fresh one, reused on every retry).
        Returns the 2xx response with its body read. ``held=True`` marks a request the broker
        may hold open (a long-poll, ``?wait=``): it then does not take one of the
        ``max_concurrency`` slots that ordinary calls share.
        """
        return await self._http.request(
            method,
            path,
            params=params,
            content=encode_json(json),
            headers=headers,
            idempotency_key=idempotency_key,
            timeout=timeout,
            held=held,
        )

    # Helpers for the resources.

    async def _get(
        self,
        path: str,
        *,
        cast_to: type[T],
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        held: bool = False,
    ) -> T:
        response = await self._http.request("GET", path, params=params, timeout=timeout, held=held)
        return decode(response, cast_to)

    async def _post(
        self,
        path: str,
        *,
        cast_to: type[T],
        body: Any = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> T:
        response = await self._http.request(
            "POST",
            path,
            content=encode_json(body),
            idempotency_key=idempotency_key,
            timeout=timeout,
        )
        return decode(response, cast_to)

    async def _delete(self, path: str, *, cast_to: type[T]) -> T:
        response = await self._http.request("DELETE", path)
        return decode(response, cast_to)

    def _paginate(
        self,
        path: str,
        *,
        item_type: type[T],
        params: Mapping[str, Any] | None = None,
        cursor_param: str = "cursor",
    ) -> AsyncPaginator[T]:
        query = query_params(params) or {}
        page_type: type[Page[T]] = Page[item_type]  # type: ignore[valid-type]

        async def fetch(cursor: str | None) -> Page[T]:
            page_query = query if cursor is None else {**query, cursor_param: cursor}
            return await self._get(path, cast_to=page_type, params=page_query)

        return AsyncPaginator(fetch)

    def _event_source(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        last_event_id: str | None = None,
        reconnect: bool = True,
        read_timeout: float = STREAM_READ_TIMEOUT,
    ) -> EventSource:
        from ._sse import EventSource

        return EventSource(
            self._http,
            path,
            params=query_params(params),
            last_event_id=last_event_id,
            reconnect=reconnect,
            read_timeout=read_timeout,
        )


def _check_settings(*, timeout: float, max_retries: int, deadline: float) -> None:
    for name, value in (("timeout", timeout), ("deadline", deadline)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{name} must be a number of seconds, not {value!r}")
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a positive, finite number of seconds, not {value}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int):
        raise TypeError(f"max_retries must be an int, not {max_retries!r}")
    if max_retries < 0:
        raise ValueError(f"max_retries must be 0 or more, not {max_retries}")
