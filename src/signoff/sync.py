"""`Signoff`: the blocking client, the async client run on a background event-loop thread.

Every method of `AsyncSignoff`'s resources has a blocking twin here with the same signature
(generated into ``_sync_resources.py``, checked by the test suite). Each call is one hop onto
the client's own loop thread, so connections are pooled across calls, many threads can share
one client, and it works even where the calling thread already runs an event loop (a
notebook). Ctrl-C cancels the call in flight.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Mapping
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from ._http import DEFAULT_DEADLINE, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
from ._loop_thread import LoopThread

if TYPE_CHECKING:
    import httpx

    from . import _sync_resources
    from .client import AsyncSignoff

__all__ = ["Signoff"]


class Signoff:
    """The blocking signoff client: ``client.approvals.create(...)`` without ``await``.

    Takes the same arguments as `AsyncSignoff`. Close it (``with Signoff() as client:`` or
    ``client.close()``) to stop its thread; one left open is closed at interpreter exit.
    """

    _async: AsyncSignoff
    _loop: LoopThread

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        deadline: float = DEFAULT_DEADLINE,
        max_concurrency: int | None = None,
        transport: Literal["httpx", "aiohttp"] = "httpx",
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        from .client import AsyncSignoff

        options: dict[str, Any] = {
            "timeout": timeout,
            "max_retries": max_retries,
            "deadline": deadline,
            "transport": transport,
            "default_headers": default_headers,
        }
        if max_concurrency is not None:
            options["max_concurrency"] = max_concurrency
        loop = LoopThread()
        try:
            client = loop.call_sync(lambda: AsyncSignoff(api_key, base_url, **options))
        except BaseException:
            loop.close()
            raise
        self._setup(client, loop, owns_loop=True)

    @classmethod
    def _wrap(cls, client: AsyncSignoff, loop: LoopThread, *, owns_loop: bool) -> Signoff:
        """A blocking client around an async client already living on ``loop``."""
        self = cls.__new__(cls)
        self._setup(client, loop, owns_loop=owns_loop)
        return self

    def _setup(self, client: AsyncSignoff, loop: LoopThread, *, owns_loop: bool) -> None:
        self._async = client
        self._loop = loop
        self._owns_loop = owns_loop
        self._closed = False

    def __repr__(self) -> str:
        return f"<Signoff {self._async.base_url}>"

    @staticmethod
    def embedded(
        path: str | os.PathLike[str] | None = None, **client_options: Any
    ) -> contextlib.AbstractContextManager[Signoff]:
        """A broker in this process (SQLite at ``path``, temporary when None) and a blocking
        client for it: ``with Signoff.embedded() as client: ...``. See `signoff.embedded`."""
        from ._embedded import embedded_sync

        return embedded_sync(path, **client_options)

    @property
    def base_url(self) -> str:
        """The broker this client talks to."""
        return str(self._async.base_url)

    @property
    def async_client(self) -> AsyncSignoff:
        """The `AsyncSignoff` underneath (it lives on this client's loop thread)."""
        return self._async

    # -- resources --------------------------------------------------------------------------

    @cached_property
    def approvals(self) -> _sync_resources.Approvals:
        """Ask for, read, decide and wait on approvals."""
        from ._sync_resources import Approvals

        return Approvals(self._async.approvals, self._loop)

    @cached_property
    def events(self) -> _sync_resources.Events:
        """The tenant's event log, as pages or a live stream."""
        from ._sync_resources import Events

        return Events(self._async.events, self._loop)

    @cached_property
    def policies(self) -> _sync_resources.Policies:
        """Rules that allow, deny or require a human."""
        from ._sync_resources import Policies

        return Policies(self._async.policies, self._loop)

    @cached_property
    def api_keys(self) -> _sync_resources.ApiKeys:
        """Mint, list and revoke API keys."""
        from ._sync_resources import ApiKeys

        return ApiKeys(self._async.api_keys, self._loop)

    @cached_property
    def connections(self) -> _sync_resources.Connections:
        """Connectors bound to config and secrets, and the action types they offer."""
        from ._sync_resources import Connections

        return Connections(self._async.connections, self._loop)

    @cached_property
    def actions(self) -> _sync_resources.Actions:
        """Governed actions: run one or many, follow them, fetch their evidence.

        ``execute_many`` is one blocking call on the loop thread however many items it runs;
        its ``on_progress`` callback is called on that thread.
        """
        from ._sync_resources import Actions

        return Actions(self._async.actions, self._loop)

    @cached_property
    def audit(self) -> _sync_resources.Audit:
        """The hash-chained audit log."""
        from ._sync_resources import Audit

        return Audit(self._async.audit, self._loop)

    # -- plumbing ---------------------------------------------------------------------------

    def request(
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
        """Any API call, authenticated, retried and error-mapped: the escape hatch."""
        return self._loop.call(
            self._async.request,
            method,
            path,
            params=params,
            json=json,
            headers=headers,
            idempotency_key=idempotency_key,
            timeout=timeout,
            held=held,
        )

    def with_options(
        self,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
    ) -> Signoff:
        """A client with other timeouts or retries that shares this one's connections and thread."""
        derived = self._loop.call_sync(
            self._async.with_options, timeout=timeout, max_retries=max_retries, deadline=deadline
        )
        return Signoff._wrap(derived, self._loop, owns_loop=False)

    def close(self) -> None:
        """Close the connections and stop the background thread; idempotent."""
        if self._closed:
            return
        self._closed = True
        if not self._loop.closed:
            self._loop.call(self._async.aclose)
        if self._owns_loop:
            self._loop.close()

    def __enter__(self) -> Signoff:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_closed", True) or not getattr(self, "_owns_loop", False):
            return
        warnings.warn(
            f"unclosed {self!r}; use 'with Signoff() as client:' or call close()",
            ResourceWarning,
            stacklevel=2,
        )
        self._loop.stop_soon()  # the thread and its sockets go away without blocking here
