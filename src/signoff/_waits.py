"""Many concurrent waits, one connection: the client's wait hub.

Every ``approvals.wait()`` (and ``actions.wait()``) of one client is served by a single
reader of the tenant event stream (``GET /v1/events/stream``), so 10,000 concurrent waits
cost one connection rather than 10,000 polls. How a wait works:

1. It registers itself, then makes sure the reader is *live*: connected, with a known
   position in the log. Only then does it read the current state, so a decision made
   between the read and the next event cannot be missed; it arrives as an event.
2. The current state is read through a small batcher: concurrent waits share
   ``GET /v1/approvals?id=a,b,c`` calls of up to 100 ids.
3. Every event for a waited id delivers the snapshot it carries; snapshots with a version
   the waiter has already seen are dropped, so a replayed event changes nothing.

The reader reconnects after a dropped connection with ``Last-Event-ID`` (the broker replays
what was missed). When the broker says the position is too old (410), the reader starts again
from now and re-reads every waited id. Where event streams do not work at all (a proxy that
buffers them, a route that is missing), it long-polls ``GET /v1/events?wait=25`` instead:
still one request at a time for all waits. The reader stops a few seconds after the last wait
ends and starts again with the next one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio
import msgspec

from ._batch_read import BatchReader
from ._kinds import ACTION_RUNS, APPROVALS, EVENT_TYPES, KINDS, Kind, S, Snapshot
from ._retry import RETRYABLE_STATUSES, Backoff, server_wait
from ._spawn import spawn_background
from .errors import APIConnectionError, APIStatusError, SignoffError, _copied
from .models import Page

if TYPE_CHECKING:
    from ._sse import EventSource
    from .client import AsyncSignoff

__all__ = ["ACTION_RUNS", "APPROVALS", "Kind", "WaitHub", "WaitTimedOut"]

log = logging.getLogger("signoff")


class _Envelope(msgspec.Struct):
    """The part of an event the hub needs; ``data`` stays undecoded until someone waits on it."""

    type: str
    subject_id: str
    data: msgspec.Raw
    seq: int = 0


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_ENVELOPE_PAGE = msgspec.json.Decoder(Page[_Envelope])


_BACKOFF = Backoff(initial=0.5, maximum=10.0)
_MAX_BACKOFF = 60.0


def _passing(error: APIStatusError) -> bool:
    """Statuses that say "not now" rather than "never": they must not end every wait."""
    return error.status_code in RETRYABLE_STATUSES or error.status_code >= 500


class WaitTimedOut(Exception):
    """Internal: the caller's timeout ran out; ``latest`` is the last state seen."""

    def __init__(self, latest: Any) -> None:
        super().__init__("timed out")
        self.latest = latest


class _Waiter:
    __slots__ = ("done", "error", "kind", "latest", "subject_id")

    def __init__(self, kind: Kind[Any], subject_id: str) -> None:
        self.kind = kind
        self.subject_id = subject_id
        self.latest: Any = None
        self.error: BaseException | None = None
        self.done = anyio.Event()

    def offer(self, snapshot: Snapshot) -> None:
        if self.latest is None or snapshot.version > self.latest.version:
            self.latest = snapshot
            if snapshot.is_terminal:
                self.done.set()

    def fail(self, error: BaseException) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()


class WaitHub:
    """Serves every wait of one client from one event-stream reader."""

    def __init__(self, client: AsyncSignoff, *, linger: float = 5.0) -> None:
        self._client = client
        self._linger = linger
        self._waiters: dict[str, set[_Waiter]] = {}
        self._count = 0
        self._cursor: str | None = None  # our position in the log; None until live
        self._resync_needed = False
        self._pump_running = False
        self._pump_scope: anyio.CancelScope | None = None
        self._changed: anyio.Event | None = None
        self._became_idle: anyio.Event | None = None
        self._became_busy: anyio.Event | None = None
        self._closed = False
        self._readers: dict[str, BatchReader[Any]] = {}
        self._connections_before = 0  # connections of event sources already closed
        self._source: EventSource | None = None
        # Set once the reader has decided to stop (idle or closing): from then on a new wait
        # must not count on it, even while it still hands out events it had buffered.
        self._stopping = False
        self._pump_done: anyio.Event | None = None
        self.mode = "stream"  # "poll" once event streams turned out not to get through
        self.resyncs = 0  # times the broker lost our position and every wait was re-read
        self._failures = 0  # failures in a row following the log

    @property
    def connections_opened(self) -> int:
        """Event-stream connections opened so far (for tests and benchmarks)."""
        current = self._source.connections if self._source is not None else 0
        return self._connections_before + current

    @property
    def live(self) -> bool:
        """True while the reader follows the log from a known position (a wait may rely on it)."""
        return self._cursor is not None and self._pump_running and not self._stopping

    async def wait(
        self, kind: Kind[S], subject_id: str, timeout: float | None, *, initial: S | None = None
    ) -> S:
        """Return ``subject_id``'s state once terminal; raise `WaitTimedOut` after ``timeout``
        (with the last state seen, or None if none could be read in time). ``initial`` is a
        state the caller already holds (it is still re-read once the reader is live)."""
        waiter = _Waiter(kind, subject_id)
        if initial is not None:
            waiter.offer(initial)
        self._add(waiter)
        try:
            with anyio.fail_after(timeout):
                await self._until_live(waiter)
                if not waiter.done.is_set():
                    waiter.offer(await self._reader(kind).read(subject_id))
                await waiter.done.wait()
        except TimeoutError:
            raise WaitTimedOut(waiter.latest) from None
        finally:
            self._remove(waiter)
        if waiter.error is not None:
            raise _copied(waiter.error)
        latest: S = waiter.latest
        return latest

    async def aclose(self) -> None:
        """Stop the reader, fail every wait still running, and return once the reader ended."""
        self._closed = True
        self._stopping = True
        if self._pump_scope is not None:
            self._pump_scope.cancel()
        self._fail_all(SignoffError("the client was closed while waiting"))
        done = self._pump_done
        if done is not None:
            with anyio.move_on_after(5, shield=True):
                await done.wait()

    # -- registration ---------------------------------------------------------------------

    def _add(self, waiter: _Waiter) -> None:
        self._waiters.setdefault(waiter.subject_id, set()).add(waiter)
        self._count += 1
        if self._count == 1:
            if self._became_busy is not None:
                self._became_busy.set()
            self._became_idle = None

    def _remove(self, waiter: _Waiter) -> None:
        group = self._waiters.get(waiter.subject_id)
        if group is None or waiter not in group:
            return
        group.discard(waiter)
        if not group:
            del self._waiters[waiter.subject_id]
        self._count -= 1
        if self._count == 0:
            if self._became_idle is not None:
                self._became_idle.set()
            self._became_busy = None

    def _fail_all(self, error: BaseException) -> None:
        for group in self._waiters.values():
            for waiter in group:
                waiter.fail(error)
        self._notify()

    def _notify(self) -> None:
        """Wake everyone waiting for the hub's state (live, failed, closed) to change."""
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    async def _until_live(self, waiter: _Waiter) -> None:
        while not self.live and not waiter.done.is_set():
            if self._closed:
                raise SignoffError("the client is closed")
            if not self._pump_running:
                self._start_pump()
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()

    def _reader(self, kind: Kind[S]) -> BatchReader[S]:
        reader = self._readers.get(kind.event_prefix)
        if reader is None:
            reader = self._readers[kind.event_prefix] = BatchReader(self._client, kind)
        return reader

    # -- the reader -----------------------------------------------------------------------

    def _start_pump(self) -> None:
        self._pump_running = True
        self._stopping = False
        self._cursor = None
        self._pump_done = anyio.Event()
        spawn_background(self._pump, name="signoff-wait-hub")

    async def _pump(self) -> None:
        error: BaseException | None = None
        stopped_idle = False
        try:
            with anyio.CancelScope() as scope:
                self._pump_scope = scope
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._stop_when_idle, tg.cancel_scope)
                    error = await self._follow()
                    tg.cancel_scope.cancel()
                stopped_idle = error is None and not scope.cancel_called
        finally:
            self._pump_running = False
            self._pump_scope = None
            self._cursor = None
            if error is not None:
                log.debug("wait hub stopped: %r", error)
                self._fail_all(error)
            if self._pump_done is not None:
                self._pump_done.set()
            self._notify()
        # A wait may have registered while the reader was shutting down for idleness.
        if stopped_idle and self._count and not self._closed:
            self._start_pump()

    async def _stop_when_idle(self, scope: anyio.CancelScope) -> None:
        while True:
            if self._count:
                self._became_idle = anyio.Event()
                await self._became_idle.wait()
            self._became_busy = busy = anyio.Event()
            with anyio.move_on_after(self._linger):
                await busy.wait()
            if not self._count:
                # Decided before anything else runs: a wait arriving from now on must not
                # rely on this reader, which may still hand out events it has buffered.
                self._stopping = True
                scope.cancel()
                return

    async def _follow(self) -> BaseException | None:
        """Follow the event log until cancelled; return the error that ends it for good."""
        from ._sse import StreamUnavailableError

        try:
            try:
                await self._follow_stream()
            except StreamUnavailableError as exc:
                log.debug("event stream unavailable (%s); long-polling instead", exc)
                self.mode = "poll"
                await self._follow_polling()
        except Exception as exc:
            return exc
        return None

    async def _follow_stream(self) -> None:
        while True:
            params: dict[str, Any] = {"types": EVENT_TYPES}
            if self._cursor is None:
                params["after"] = "now"
            source = self._client._event_source(
                "/v1/events/stream", params=params, last_event_id=self._cursor
            )
            self._source = source
            try:
                async with source:
                    async for sse in source:
                        if sse.event == "ready":
                            await self._went_live(sse.id)
                        elif sse.data:
                            self._dispatch(_ENVELOPE.decode(sse.data))
                            if sse.id:
                                self._cursor = sse.id
                    return  # pragma: no cover - the source reconnects until closed
            except APIStatusError as exc:
                if exc.status_code == 410:
                    self._expired_cursor()
                elif _passing(exc):
                    await self._back_off(exc)
                else:
                    raise
            finally:
                self._connections_before += source.connections
                self._source = None

    async def _follow_polling(self) -> None:
        while True:
            live = self._cursor is not None
            params: dict[str, Any] = {
                "types": EVENT_TYPES,
                "after": self._cursor or "now",
                "limit": 1000,
                "wait": 25 if live else 0,
            }
            try:
                response = await self._client.request(
                    "GET", "/v1/events", params=params, timeout=40.0, held=live
                )
            except APIStatusError as exc:
                if exc.status_code == 410:
                    self._expired_cursor()
                    continue
                if not _passing(exc):
                    raise
                await self._back_off(exc)
                continue
            except APIConnectionError as exc:
                await self._back_off(exc)
                continue
            self._failures = 0
            page = _ENVELOPE_PAGE.decode(response.content)
            for envelope in page.data:
                self._dispatch(envelope)
            if not live:
                await self._went_live(page.next_cursor)
            elif page.next_cursor:
                self._cursor = page.next_cursor

    async def _back_off(self, error: BaseException) -> None:
        """Wait before following the log again after a failure that should pass (a broker
        restarting, throttling, a proxy between deploys): waits keep waiting meanwhile."""
        self._failures += 1
        wait = server_wait(error)
        if wait is None:
            wait = _BACKOFF.wait(self._failures)
        log.debug("event log unavailable (%s); trying again in %.1fs", error, wait)
        await anyio.sleep(min(wait, _MAX_BACKOFF))

    async def _went_live(self, cursor: str | None) -> None:
        self._failures = 0
        self._cursor = cursor or "0"
        self._notify()
        if self._resync_needed:
            self._resync_needed = False
            await self._resync()

    def _expired_cursor(self) -> None:
        """The broker no longer has our position: start from now and re-read every wait."""
        log.debug("event cursor %s expired; re-reading waited ids", self._cursor)
        self._cursor = None
        self._resync_needed = True
        self.resyncs += 1

    async def _resync(self) -> None:
        async with anyio.create_task_group() as tg:
            for subject_id, group in list(self._waiters.items()):
                kind = next(iter(group)).kind
                tg.start_soon(self._reread, self._reader(kind), subject_id)

    async def _reread(self, reader: BatchReader[Any], subject_id: str) -> None:
        try:
            snapshot = await reader.read(subject_id)
        except SignoffError as exc:
            for waiter in list(self._waiters.get(subject_id, ())):
                waiter.fail(exc)
            return
        for waiter in list(self._waiters.get(subject_id, ())):
            waiter.offer(snapshot)

    def _dispatch(self, envelope: _Envelope) -> None:
        waiters = self._waiters.get(envelope.subject_id)
        if not waiters:
            return
        for kind in KINDS:
            if envelope.type.startswith(kind.event_prefix):
                snapshot = kind.decode(envelope.data)
                for waiter in list(waiters):
                    waiter.offer(snapshot)
                return
