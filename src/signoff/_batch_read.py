"""Many concurrent reads of current state, in few requests.

Every wait reads its subject's current state once it is live. Ten thousand waits started
together share ``GET /v1/approvals?id=a,b,...`` calls of up to 100 ids instead of making ten
thousand requests: the first reader to find no read in progress becomes the flusher, takes
what has queued (after one checkpoint, so waits started in the same tick join it) and hands
the results out. If the flusher is cancelled (its own wait timed out), whoever is still
queued asks again and one of them flushes.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Generic
from urllib.parse import quote

import anyio

from ._kinds import Kind, S
from .errors import NotFoundError, _copied
from .models import Page

if TYPE_CHECKING:
    from .client import AsyncSignoff

__all__ = ["BatchReader"]

_RETRY = object()


class _Slot:
    __slots__ = ("error", "event", "value")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.value: Any = None
        self.error: object = None

    def settle(self, value: Any = None, error: object = None) -> None:
        if not self.event.is_set():
            self.value, self.error = value, error
            self.event.set()


class BatchReader(Generic[S]):
    """Reads many ids' current state in few requests: concurrent reads share list calls of up
    to 100 ids, a few of them in flight at once."""

    batch_size = 100
    # Batches in flight at once. One keeps a client's waits on two connections (this one
    # and the event stream) however many there are; 10,000 waits arm in a few seconds.
    parallel = 1

    def __init__(self, client: AsyncSignoff, kind: Kind[S]) -> None:
        self._client = client
        self._kind = kind
        self._queue: dict[str, list[_Slot]] = {}
        self._flushing = False
        self.requests = 0  # for tests and benchmarks

    async def read(self, subject_id: str) -> S:
        while True:
            slot = _Slot()
            self._queue.setdefault(subject_id, []).append(slot)
            if not self._flushing:
                self._flushing = True
                try:
                    await self._flush()
                finally:
                    self._flushing = False
            await slot.event.wait()
            if slot.error is _RETRY:
                continue  # the reader that took our id was cancelled; ask again
            if isinstance(slot.error, BaseException):
                raise _copied(slot.error)
            value: S = slot.value
            return value

    async def _flush(self) -> None:
        # One checkpoint lets every wait started in the same tick join the first batch.
        await anyio.lowlevel.checkpoint()
        slots = anyio.Semaphore(self.parallel)
        try:
            while self._queue:  # ids queued while the last batches were in flight
                async with anyio.create_task_group() as tg:
                    while self._queue:
                        ids = list(itertools.islice(self._queue, self.batch_size))
                        batch = {subject_id: self._queue.pop(subject_id) for subject_id in ids}
                        await slots.acquire()
                        tg.start_soon(self._read_batch, batch, slots)
        except BaseException:
            # Cancelled (the caller that happened to flush timed out): whoever is still
            # queued asks again, and one of them flushes.
            _settle_all(self._queue, error=_RETRY)
            self._queue.clear()
            raise

    async def _read_batch(self, batch: dict[str, list[_Slot]], slots: anyio.Semaphore) -> None:
        try:
            found = await self._fetch(list(batch))
        except Exception as exc:
            _settle_all(batch, error=exc)
            return
        except BaseException:
            _settle_all(batch, error=_RETRY)
            raise
        finally:
            slots.release()
        for subject_id, waiting in batch.items():
            snapshot = found.get(subject_id)
            if snapshot is None:
                error = NotFoundError(
                    f"{subject_id} was not found", status_code=404, type="not_found"
                )
                _settle_all({subject_id: waiting}, error=error)
            else:
                _settle_all({subject_id: waiting}, value=snapshot)

    async def _fetch(self, ids: list[str]) -> dict[str, S]:
        kind = self._kind
        self.requests += 1
        if len(ids) == 1:
            try:
                one = await self._client._get(
                    f"{kind.path}/{quote(ids[0], safe='')}", cast_to=kind.model
                )
            except NotFoundError:
                return {}
            return {one.id: one}
        page = await self._client._get(
            kind.path, cast_to=_page_of(kind.model), params={"id": ids, "limit": len(ids)}
        )
        return {item.id: item for item in page.data}


def _page_of(model: type[S]) -> type[Page[S]]:
    return Page[model]  # type: ignore[valid-type]


def _settle_all(batch: dict[str, list[_Slot]], value: Any = None, error: object = None) -> None:
    for slots in batch.values():
        for slot in slots:
            slot.settle(value, error)
