"""One event loop on a background thread, and blocking calls into it.

The sync client runs the async client here instead of copying it: every blocking call hands
a coroutine to this loop and waits for the result. One long-lived loop per client keeps the
connection pool alive across calls (``asyncio.run`` per call would open a new connection
every time) and keeps the caller's own event loop, if any, out of it, so the sync client also
works inside a notebook or a running async framework.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import os
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, ParamSpec, TypeVar

import anyio
from anyio.from_thread import BlockingPortal

from .errors import SignoffError

__all__ = ["LoopThread"]

P = ParamSpec("P")
T = TypeVar("T")

_live: weakref.WeakSet[LoopThread] = weakref.WeakSet()
# What talking to a loop that has already stopped raises.
_GONE = (RuntimeError, SignoffError, concurrent.futures.CancelledError)


class LoopThread:
    """A daemon thread running an asyncio loop, with thread-safe blocking calls into it."""

    def __init__(self, name: str = "signoff-loop") -> None:
        self._portal: BlockingPortal | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._pid = os.getpid()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise SignoffError("could not start the event loop thread") from self._startup_error
        _live.add(self)

    def _run(self) -> None:
        try:
            anyio.run(self._main, backend="asyncio")
        except BaseException as exc:  # pragma: no cover - only if the loop cannot start
            self._startup_error = exc
            self._ready.set()

    async def _main(self) -> None:
        async with BlockingPortal() as portal:
            self._portal = portal
            self._ready.set()
            await portal.sleep_until_stopped()

    @property
    def closed(self) -> bool:
        """True once `close` ran (or after a fork: the thread does not exist in the child)."""
        return self._closed or os.getpid() != self._pid

    def call_sync(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run the plain function ``fn(*args, **kwargs)`` on the loop thread and return its result.

        For work that must happen on the loop (building objects bound to it) but does not wait.
        """
        # Boxed: the portal would await an awaitable result (a paginator is one).
        box = self._checked_portal().call(lambda: (fn(*args, **kwargs),))
        return box[0]

    def call(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``await fn(*args, **kwargs)`` on the loop and block until it returns.

        Ctrl-C while blocked cancels the call on the loop before ``KeyboardInterrupt``
        propagates, so nothing keeps running behind the caller's back.
        """
        portal = self._checked_portal()
        finished = threading.Event()

        async def run() -> T:
            try:
                return await fn(*args, **kwargs)
            finally:
                finished.set()

        future: concurrent.futures.Future[T] = portal.start_task_soon(run)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()  # cancels the task's scope on the loop
            finished.wait(timeout=5.0)
            raise
        except concurrent.futures.CancelledError:
            raise SignoffError("the call was cancelled because the client was closed") from None

    def iterate(self, make: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
        """Iterate an async iterator from this thread, one blocking hop per item.

        The async iterator lives in a single task on the loop (async generators that hold
        cancel scopes or task groups across ``yield`` must be driven from one task); items
        come over a zero-buffer channel, so nothing runs ahead of the consumer.
        """
        portal = self._checked_portal()
        send, receive = self.call_sync(anyio.create_memory_object_stream[tuple[bool, Any]], 0)

        stopped = threading.Event()

        async def produce() -> None:
            try:
                await _produce()
            finally:
                stopped.set()

        async def _produce() -> None:
            async with send:
                iterator: AsyncIterator[T] | None = None
                try:
                    iterator = make()
                    async for item in iterator:
                        await send.send((True, item))
                except anyio.BrokenResourceError:
                    pass  # the consumer stopped early
                except Exception as exc:
                    with contextlib.suppress(anyio.BrokenResourceError):
                        await send.send((False, exc))
                finally:
                    aclose = getattr(iterator, "aclose", None)
                    if aclose is not None:
                        with anyio.CancelScope(shield=True):
                            await aclose()

        producer = portal.start_task_soon(produce)
        try:
            while True:
                try:
                    ok, value = self.call(receive.receive)
                except anyio.EndOfStream:
                    return
                if not ok:
                    raise value
                yield value
        finally:
            producer.cancel()
            if not self.closed:
                with contextlib.suppress(*_GONE):
                    self.call(receive.aclose)
                # Closing means closed: the async iterator's own cleanup (a connection, a
                # background engine) has finished by the time this returns.
                stopped.wait(timeout=10.0)

    def stop_soon(self) -> None:
        """Ask the loop to stop without waiting (safe from ``__del__`` and any thread)."""
        portal = self._portal
        if self.closed or portal is None or threading.current_thread() is self._thread:
            return
        self._closed = True
        with contextlib.suppress(*_GONE):
            portal.start_task_soon(portal.stop, True)

    def close(self) -> None:
        """Stop the loop and join the thread; idempotent."""
        with self._lock:
            if self.closed:
                self._closed = True
                return
            self._closed = True
        portal = self._portal
        if portal is not None:
            with contextlib.suppress(*_GONE):
                portal.call(portal.stop, True)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)

    def _checked_portal(self) -> BlockingPortal:
        if self.closed:
            if os.getpid() != self._pid:
                raise SignoffError(
                    "this client was created before os.fork(); create a new one in the child"
                )
            raise SignoffError("this client is closed")
        if threading.current_thread() is self._thread:
            raise SignoffError(
                "a blocking signoff call was made from the client's own event loop thread, "
                "which would deadlock; use AsyncSignoff from async code"
            )
        assert self._portal is not None
        return self._portal


@atexit.register
def _close_all() -> None:
    """Close every loop still running at interpreter exit, so sockets close cleanly."""
    for loop in list(_live):
        loop.close()
