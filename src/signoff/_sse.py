"""Server-sent events: an incremental WHATWG decoder and a reconnecting `EventSource`.

```python
async with client._event_source("/v1/events/stream", params={"after": 0}) as source:
    async for event in source:                  # ServerSentEvent(event, data, id, retry)
        handle(event)
    resume_from = source.last_event_id
```

`EventSource` reconnects after a dropped connection (a network error, a read timeout, a
clean end of stream, or a 408/429/5xx answer), waiting the server's ``retry:`` time (1 s
until it sends one), doubled per consecutive failure up to 30 s, plus up to 25 % jitter;
a ``Retry-After`` replaces that wait. Each reconnection sends ``Last-Event-ID`` with the last
id received. Any other error status is raised as its mapped error (a 410 ``cursor_expired``,
say, is the caller's to handle).

`StreamUnavailableError` means "this route cannot stream here, use long-polling": a 2xx
whose content type is not ``text/event-stream`` (typically a buffering proxy), and 405, 406
and 501. A 404 is *not* treated so: the broker answers 404 for a missing resource, and the
caller should see `NotFoundError` for that rather than poll a resource that is not there.
"""

from __future__ import annotations

import random
import warnings
from collections import deque
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
import httpx

from ._http import STREAM_READ_TIMEOUT
from ._retry import MAX_RETRY_AFTER, RETRYABLE_STATUSES, server_wait
from ._sse_decoder import DEFAULT_MAX_EVENT_SIZE, EventTooLargeError, ServerSentEvent, SSEDecoder
from .errors import APIConnectionError, APIStatusError

if TYPE_CHECKING:
    from ._http import HTTPCore

__all__ = [
    "EventSource",
    "ServerSentEvent",
    "SSEDecoder",
    "StreamUnavailableError",
    "EventTooLargeError",
]

#: Statuses that mean the route cannot stream (rather than "try again" or "no such thing").
UNAVAILABLE_STATUSES = frozenset({405, 406, 501})
DEFAULT_RECONNECT_WAIT = 1.0
MAX_RECONNECT_WAIT = 30.0
#: The first reconnection after a connection that delivered events waits at most this long.
#: A stream the server ended on purpose (its lifetime cap) or a blip should cost
#: milliseconds, not the ``retry:`` interval; later attempts back off from ``retry:``.
FIRST_RECONNECT_JITTER = 0.1
_CLOSE_TIMEOUT = 5.0
_DRAIN_READS = 64


class StreamUnavailableError(APIConnectionError):
    """The endpoint cannot stream server-sent events from here; fall back to long-polling.

    ``status_code`` and ``content_type`` say what came back instead of a stream.
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, content_type: str | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.content_type = content_type


class EventSource:
    """Reads one server-sent-events endpoint as an async iterator of `ServerSentEvent`,
    reconnecting with ``Last-Event-ID`` after drops (unless ``reconnect=False``, which
    raises instead, and ends the iteration at a clean end of stream).

    Streams bypass the client's concurrency limiter but use its auth and error mapping.
    ``read_timeout`` is how long a silent connection is trusted (the broker sends a
    heartbeat every 15 s). Close it with ``aclose()`` or ``async with``; cancelling a read
    closes the connection, and the next read reconnects from the last id.
    """

    def __init__(
        self,
        http: HTTPCore,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        last_event_id: str | None = None,
        reconnect: bool = True,
        read_timeout: float = STREAM_READ_TIMEOUT,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
    ) -> None:
        self._http = http
        self._path = path
        self._params = dict(params) if params else None
        self._reconnect = reconnect
        self._read_timeout = read_timeout
        self._max_event_size = max_event_size
        self._received_id = last_event_id or ""  # the id to resume from on reconnection
        self._returned_id = self._received_id  # the id of the last event handed out
        self._retry: float | None = None  # the server's reconnection time, seconds
        self._response: httpx.Response | None = None
        self._chunks: AsyncIterator[bytes] | None = None
        self._decoder: SSEDecoder | None = None
        self._pending: deque[ServerSentEvent] = deque()
        self._failures = 0  # connections in a row that delivered no event
        self._wait = 0.0  # seconds to wait before the next connection
        self._ended = False  # no more reading; pending events are still delivered
        self._closed = False  # aclose() was called
        self._sleep = anyio.sleep  # a seam for tests
        self.connections = 0  # connections opened so far (for tests and benchmarks)

    def __repr__(self) -> str:
        return f"<EventSource GET {self._path} last_event_id={self.last_event_id!r}>"

    @property
    def last_event_id(self) -> str | None:
        """The id to resume from: that of the last event this source handed out (or the
        last the server confirmed, once every received event has been handed out)."""
        return (self._returned_id if self._pending else self._received_id) or None

    @property
    def retry(self) -> float | None:
        """The reconnection time the server asked for with ``retry:``, in seconds."""
        return self._retry

    def __aiter__(self) -> EventSource:
        return self

    async def __anext__(self) -> ServerSentEvent:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._pending:
                event = self._pending.popleft()
                self._returned_id = event.id or ""
                return event
            if self._ended:
                raise StopAsyncIteration
            if self._response is None:
                await self._connect()
                continue
            await self._read()

    async def _read(self) -> None:
        assert self._chunks is not None
        assert self._decoder is not None
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            await self._drop()
            if self._reconnect:
                self._schedule_reconnect(None)
            else:
                self._ended = True
            return
        except (httpx.RequestError, httpx.StreamError) as exc:
            await self._drop()
            error = self._http.transport_error(exc, f"GET {self._path}", self._read_timeout)
            if not self._reconnect:
                self._ended = True
                raise error from exc
            self._schedule_reconnect(error)
            return
        except BaseException:
            # Cancelled (or worse) mid-read: never leave the connection open behind us.
            await self._drop()
            if not self._reconnect:
                self._ended = True
            raise
        try:
            events = self._decoder.feed(chunk)
        except EventTooLargeError:
            await self._drop()
            self._ended = True
            raise
        if self._decoder.retry is not None:
            self._retry = self._decoder.retry / 1000
        self._received_id = self._decoder.last_event_id
        if events:
            self._failures = 0
            self._pending.extend(events)

    async def _connect(self) -> None:
        if self._wait > 0:
            await self._sleep(self._wait)
            self._wait = 0.0
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        if self._received_id:
            headers["Last-Event-ID"] = self._received_id
        try:
            response = await self._http.open_stream(
                self._path, params=self._params, headers=headers, read_timeout=self._read_timeout
            )
        except APIStatusError as exc:
            if exc.status_code in UNAVAILABLE_STATUSES:
                self._ended = True
                raise StreamUnavailableError(
                    f"GET {self._path} cannot stream here ({exc}); use long-polling",
                    status_code=exc.status_code,
                ) from exc
            if not self._reconnect or exc.status_code not in RETRYABLE_STATUSES:
                self._ended = True
                raise
            self._schedule_reconnect(exc)
            return
        except APIConnectionError as exc:
            if not self._reconnect:
                self._ended = True
                raise
            self._schedule_reconnect(exc)
            return
        if response.status_code == 204:  # the spec's "stop reconnecting"
            await _close(response, None)
            self._ended = True
            return
        content_type = response.headers.get("content-type", "")
        if content_type.split(";", 1)[0].strip().lower() != "text/event-stream":
            await _close(response, None)
            self._ended = True
            raise StreamUnavailableError(
                f"GET {self._path} answered {response.status_code} with content type "
                f"{content_type or 'none'!r}, not text/event-stream (a proxy that buffers "
                "responses?); use long-polling",
                status_code=response.status_code,
                content_type=content_type or None,
            )
        self.connections += 1
        self._response = response
        self._chunks = response.aiter_bytes()
        self._decoder = SSEDecoder(
            max_event_size=self._max_event_size, last_event_id=self._received_id
        )

    def _schedule_reconnect(self, error: APIConnectionError | APIStatusError | None) -> None:
        self._failures += 1
        asked = server_wait(error) if error is not None else None
        if asked is not None:
            if asked > MAX_RETRY_AFTER:
                self._ended = True
                assert error is not None
                raise error
            self._wait = asked
            return
        if self._failures == 1:
            # Random, not zero: many clients dropped at once must not reconnect in lockstep.
            self._wait = random.uniform(0, FIRST_RECONNECT_JITTER)  # jitter, not cryptography
            return
        base = self._retry if self._retry is not None else DEFAULT_RECONNECT_WAIT
        ceiling = max(base, MAX_RECONNECT_WAIT)
        wait = min(ceiling, base * 2.0 ** min(self._failures - 2, 30))
        self._wait = wait + random.uniform(0, wait / 4)  # jitter, not cryptography

    async def _drop(self) -> None:
        response, chunks = self._response, self._chunks
        self._response = self._chunks = self._decoder = None
        if response is not None:
            await _close(response, chunks)

    async def aclose(self) -> None:
        """Close the connection and end the iteration."""
        self._closed = True
        await self._drop()

    async def __aenter__(self) -> EventSource:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        if getattr(self, "_response", None) is not None:
            # Closing a connection needs the event loop; all we may do here is say so.
            warnings.warn(
                f"{self!r} was never closed; use 'async with' or 'await source.aclose()'",
                ResourceWarning,
                stacklevel=2,
                source=self,
            )


async def _close(response: httpx.Response, chunks: AsyncIterator[bytes] | None) -> None:
    with anyio.move_on_after(_CLOSE_TIMEOUT, shield=True):
        try:
            await response.aclose()
        except (httpx.HTTPError, httpx.StreamError, OSError):
            pass  # the connection is being discarded either way
        if chunks is None:
            return
        # httpx reads a body through a chain of async generators, and closing the outermost
        # would leave the inner ones to the garbage collector (and trio warns about each).
        # One more read from the closed connection makes the innermost raise instead, which
        # ends every generator in the chain. Buffered bytes may come first, hence the loop.
        for _ in range(_DRAIN_READS):
            try:
                await chunks.__anext__()
            except (StopAsyncIteration, httpx.HTTPError, httpx.StreamError, OSError):
                return
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
