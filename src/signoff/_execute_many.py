"""The engine behind ``actions.execute_many()`` and ``actions.as_completed()``.

```
items ──(lazily, one window slot each)──► validate + encode ──► batches of batch_size
      ──► task group: ≤ concurrency POSTs in flight ──► one ActionResult per item ──► emit
```

- **Memory stays bounded.** Before the engine takes an item from the input it takes a slot
  of a window of ``concurrency * batch_size`` slots, and a slot is given back only once that
  item's result has been handed over. So however long the input (a generator of 100,000
  items, an async stream), at most that many items are held, encoded or in flight, and at
  most ``concurrency`` batch tasks exist. Each item is encoded once; the bytes are dropped
  with its batch.
- **At most ``concurrency`` requests in flight** (an `anyio.CapacityLimiter`), and never
  more than the client's own ``max_concurrency``, past which requests would only queue
  inside the client and spend their deadline there.
- **One idempotency key per item**, minted when the item is read (or taken from the item)
  and sent with it on every attempt: a retried batch never runs an item twice, and an item
  that failed with a connection error can be resubmitted with ``result.idempotency_key``.
- **Failures are results.** A refused item, a whole batch call that failed after the client's
  retries (every item of it gets that error), an item that is not a valid request: each is
  an `ActionResult` carrying its error while the other items go on. ``fail_fast=True``
  instead cancels everything in flight at the first failure and raises it.
- **Cancellation** is anyio's: ``execute_many`` runs its task group in the caller's task, so
  cancelling the caller cancels every request in flight. ``as_completed`` runs the engine in
  a detached task (a task group must not stay open across the ``yield`` to the caller's
  code: see ``_spawn``), cancelled as soon as the stream is closed or left.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable, Sized
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import anyio.lowlevel

from ._action_items import (
    ActionItem,
    ActionResult,
    Prepared,
    Progress,
    batch_result,
    check_items,
    check_options,
    in_progress,
    outcome,
    prepare,
)
from ._http import decode
from ._spawn import spawn_detached
from .errors import APIResponseValidationError, SignoffError, _copied
from .models import ActionBatchResponse, ActionRun

if TYPE_CHECKING:
    from .client import AsyncSignoff

__all__ = ["Engine", "collect", "completions"]

#: How long to wait before asking again about items whose key is still executing elsewhere
#: (the broker's ``Retry-After`` for them).
IN_PROGRESS_WAIT = 1.0
_END = object()


class Engine:
    """Runs a stream of action requests in bounded, batched, concurrent calls (see module)."""

    def __init__(
        self,
        client: AsyncSignoff,
        *,
        concurrency: int,
        batch_size: int,
        fail_fast: bool,
        on_progress: Progress | None,
    ) -> None:
        check_options(concurrency, batch_size)
        self._client = client
        self.concurrency = min(concurrency, client._http.max_concurrency)
        self.batch_size = batch_size
        self._fail_fast = fail_fast
        self._on_progress = on_progress
        self._total: int | None = None
        self._failure: BaseException | None = None
        self._done = 0

    async def run(
        self,
        items: Iterable[ActionItem] | AsyncIterable[ActionItem],
        emit: Callable[[ActionResult], Awaitable[None]],
    ) -> None:
        """Execute every item, handing each result to ``emit`` as it lands.

        Returns when every item has a result; raises the first failure with ``fail_fast``,
        or whatever the input, ``emit`` or ``on_progress`` raised (after cancelling the rest).
        """
        check_items(items)
        self._total = len(items) if isinstance(items, Sized) else None
        self._emit = emit
        size = self.concurrency * self.batch_size
        # A sleeping reader may hold up to batch_size - 1 items of an unsent batch; waking
        # at no more than what the rest of the window can give back means it always wakes.
        self._window = _Window(size, wake_at=min(self.batch_size, size - self.batch_size + 1))
        self._limiter = anyio.CapacityLimiter(self.concurrency)
        async with anyio.create_task_group() as tg:
            self._scope = tg.cancel_scope
            try:
                await self._read(items, tg)
            except Exception as exc:
                self._abort(exc)
        if self._failure is not None:
            raise self._failure

    def _abort(self, exc: BaseException) -> None:
        """Stop everything; `run` raises the first failure once the task group has ended."""
        if self._failure is None:
            self._failure = exc
        self._scope.cancel()

    async def _read(
        self, items: Iterable[Any] | AsyncIterable[Any], tg: anyio.abc.TaskGroup
    ) -> None:
        if isinstance(items, AsyncIterable):
            iterator = aiter(items)

            async def pull() -> Any:
                return await anext(iterator, _END)
        else:
            sync_iterator = iter(items)

            async def pull() -> Any:
                return next(sync_iterator, _END)

        single = self.batch_size == 1
        batch: list[Prepared] = []
        index = 0
        while True:
            await self._window.take()  # before the item is read: that bounds memory
            item = await pull()
            if item is _END:
                self._window.give(1)
                break
            prepared = prepare(index, item, single=single)
            index += 1
            if isinstance(prepared, ActionResult):
                await self._deliver([prepared])
                continue
            batch.append(prepared)
            if len(batch) == self.batch_size:
                tg.start_soon(self._send, batch)
                batch = []
                # Let the batch start sending while the next one fills (the window's
                # acquire skips the event loop while slots are free).
                await anyio.lowlevel.checkpoint()
        if batch:
            tg.start_soon(self._send, batch)

    async def _send(self, batch: list[Prepared]) -> None:
        try:
            if len(batch) == 1 and self.batch_size == 1:
                await self._deliver([await self._post_one(batch[0])])
                return
            pending, rounds = batch, 0
            while pending:
                results = await self._post_batch(pending)
                # Items whose key is still executing from an earlier request are asked again
                # (together, in a batch of their own) until that request has an answer.
                again = [
                    item
                    for item, result in zip(pending, results, strict=True)
                    if rounds < self._client.max_retries and in_progress(result)
                ]
                retried = {item.index for item in again}
                await self._deliver([r for r in results if r.index not in retried])
                if again:
                    await anyio.sleep(IN_PROGRESS_WAIT)
                pending, rounds = again, rounds + 1
        except Exception as exc:  # a bug, or emit/on_progress failing: stop everything
            self._abort(exc)

    async def _post_one(self, item: Prepared) -> ActionResult:
        try:
            async with self._limiter:
                response = await self._client._http.request(
                    "POST", "/v1/actions", content=item.body, idempotency_key=item.key
                )
            return ActionResult(item.index, item.key, run=decode(response, ActionRun))
        except SignoffError as exc:
            return ActionResult(item.index, item.key, error=exc)

    async def _post_batch(self, batch: list[Prepared]) -> list[ActionResult]:
        body = b'{"items":[' + b",".join(item.body for item in batch) + b"]}"
        try:
            async with self._limiter:
                response = await self._client._http.request(
                    "POST", "/v1/actions/batch", content=body
                )
            answers = decode(response, ActionBatchResponse).data
            request_id = response.headers.get("x-request-id")
            if len(answers) != len(batch):
                raise APIResponseValidationError(
                    f"POST /v1/actions/batch answered {len(answers)} results for "
                    f"{len(batch)} items",
                    request_id=request_id,
                )
        except SignoffError as exc:
            # The whole call failed after the client's retries: every item shares the error,
            # and every item is safe to send again with its key.
            return [ActionResult(item.index, item.key, error=_copied(exc)) for item in batch]
        return [
            batch_result(item, answer, request_id)
            for item, answer in zip(batch, answers, strict=True)
        ]

    async def _deliver(self, results: list[ActionResult]) -> None:
        for result in results:
            if result.error is not None and self._fail_fast:
                result.error.add_note(f"(item {result.index} of actions.execute_many)")
                self._abort(result.error)
                return
            await self._emit(result)
            self._done += 1
            if self._on_progress is not None:
                self._on_progress(self._done, self._total)
            self._window.give(1)


class _Window:
    """Room for the items taken from the input but not yet handed over.

    Like a semaphore, except that a reader who finds no room sleeps until a whole batch's
    worth has been given back: it then reads a batch in one go instead of waking per item.
    Only the engine's reader ever waits here.
    """

    def __init__(self, size: int, *, wake_at: int) -> None:
        self._free = size
        self._wake_at = wake_at
        self._room: anyio.Event | None = None

    async def take(self) -> None:
        if self._free <= 0:
            self._room = anyio.Event()
            await self._room.wait()
        self._free -= 1

    def give(self, count: int) -> None:
        self._free += count
        if self._room is not None and self._free >= self._wake_at:
            self._room.set()
            self._room = None


# -- the two ways to drive the engine --------------------------------------------------------


async def collect(
    engine: Engine,
    items: Iterable[ActionItem] | AsyncIterable[ActionItem],
    *,
    ordered: bool,
) -> list[ActionRun | SignoffError]:
    """Every item's run or error, in input order (``ordered``) or in the order they landed."""
    landed: list[ActionResult] = []

    async def keep(result: ActionResult) -> None:
        landed.append(result)

    await engine.run(items, keep)
    outcomes: list[ActionRun | SignoffError] = [outcome(result) for result in landed]
    if not ordered:
        return outcomes
    in_order = outcomes[:]
    for result, each in zip(landed, outcomes, strict=True):
        in_order[result.index] = each  # the indexes are exactly 0 .. n-1
    return in_order


def completions(
    engine: Engine, items: Iterable[ActionItem] | AsyncIterable[ActionItem]
) -> AsyncGenerator[ActionResult, None]:
    """Each item's `ActionResult` as it lands; closing the generator cancels the rest."""
    check_items(items)  # now, rather than at the first iteration
    return _completions(engine, items)


async def _completions(
    engine: Engine, items: Iterable[ActionItem] | AsyncIterable[ActionItem]
) -> AsyncGenerator[ActionResult, None]:
    send, receive = anyio.create_memory_object_stream[ActionResult](engine.batch_size)
    failure: list[Exception] = []
    finished = anyio.Event()

    async def push(result: ActionResult) -> None:
        try:
            send.send_nowait(result)  # no trip round the event loop per result
        except anyio.WouldBlock:
            await send.send(result)

    async def run() -> None:
        async with send:
            try:
                await engine.run(items, push)
            except anyio.BrokenResourceError:
                pass  # the consumer stopped reading
            except Exception as exc:  # handed to the consumer below
                failure.append(exc)

    cancel = spawn_detached(run(), finished.set, name="signoff actions.as_completed")
    try:
        async with receive:
            while True:
                try:
                    result = receive.receive_nowait()
                except anyio.WouldBlock:
                    try:
                        result = await receive.receive()
                    except anyio.EndOfStream:
                        break
                except anyio.EndOfStream:
                    break
                yield result
        await finished.wait()
        if failure:
            raise failure[0]
    finally:
        cancel()
        # Not left behind: the engine and its requests have ended when the stream has.
        with anyio.move_on_after(10, shield=True):
            await finished.wait()
