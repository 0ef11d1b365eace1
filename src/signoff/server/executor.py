"""The executor: runs actions through their connectors, at most ``concurrency`` at once.

Three ways a run gets here:

- a request the policies allowed: the route calls `Executor.execute` and answers with the
  finished run;
- an approval that released its run: the decision's transaction moves the run to ``running``
  and, after commit, the store hands it to `Executor.enqueue`; `Executor.run` executes it in
  the background;
- a broker restart: `Executor.recover` first moves on runs whose approval settled while no
  broker listened, then queues every run a crash left ``running``.

At shutdown the executor starts nothing new and lets executions in flight finish (up to the
action timeout). Execution is therefore at least once only across a crash: a run interrupted
between its call and the write that records the outcome is called again after a restart.
Connectors get the run's id as the idempotency key to hand to their target, so a target
that deduplicates sees it once. This assumes one broker process per database (SQLite);
several processes would need a lease.
"""

from __future__ import annotations

import logging
import traceback
from collections import deque
from typing import Any

import anyio
import msgspec

from ..models import ActionRun, ErrorDetail, RunStatus
from .connectors.base import ActionFailed, ExecutionContext
from .connectors.registry import ConnectorRegistry
from .redaction import redact, redact_error
from .store.base import ConnectionRecord, RunFinish, RunRef, Store

__all__ = ["Executor"]

log = logging.getLogger("signoff.server")

_RECOVERY_PAGE = 500
#: What msgspec raises for a value it cannot encode as JSON.
_NOT_JSON = (TypeError, ValueError, msgspec.MsgspecError)


def _as_json(value: Any) -> Any:
    """The value as the database stores it (a tuple becomes a list); `_NOT_JSON` if it is
    not JSON."""
    return msgspec.json.decode(msgspec.json.encode(value))


def _json_or_none(value: Any) -> Any:
    try:
        return _as_json(value)
    except _NOT_JSON:
        return None


class Executor:
    """Runs queued and inline executions under one bound; recovers runs at startup."""

    def __init__(
        self, store: Store, registry: ConnectorRegistry, *, concurrency: int, timeout: float
    ) -> None:
        self._store = store
        self._registry = registry
        self._concurrency = concurrency
        self._timeout = timeout
        self._queue: deque[RunRef] = deque()
        #: Run ids queued or executing here: a run is never executed twice at once.
        self._pending: set[str] = set()
        # Made in `open`, on the event loop that uses them (the app may be built elsewhere).
        self._slots: anyio.Semaphore | None = None
        self._wake: anyio.Event | None = None
        self._draining = False
        self._drained: anyio.Event | None = None

    def enqueue(self, ref: RunRef) -> None:
        """Execute a released run in the background (called after its commit)."""
        if ref.run_id in self._pending:
            return
        self._pending.add(ref.run_id)
        self._queue.append(ref)
        if self._wake is not None:
            self._wake.set()

    async def open(self) -> None:
        """Prepare to execute, then recover what a previous process left unfinished."""
        self._slots = anyio.Semaphore(self._concurrency)
        self._drained = anyio.Event()
        await self.recover()

    async def recover(self) -> int:
        """Move on runs whose approval settled unseen; queue runs left ``running``."""
        while await self._store.settle_released_runs(limit=_RECOVERY_PAGE) >= _RECOVERY_PAGE:
            pass  # each pass moves its runs out of awaiting_approval, so this ends
        after, count = 0, 0
        while True:
            page = await self._store.list_running_runs(after=after, limit=_RECOVERY_PAGE)
            for position, ref in page:
                after = position
                self.enqueue(ref)
                count += 1
            if len(page) < _RECOVERY_PAGE:
                break
        if count:
            log.info("recovering %d action runs left running; executing them again", count)
        return count

    async def run(self) -> None:
        """Execute queued runs until `drain` (or cancellation: unfinished runs then stay
        ``running`` and are recovered at the next start)."""
        slots = self._require_slots()
        try:
            async with anyio.create_task_group() as tasks:
                while not self._draining:
                    # Take the wake-up before draining: an enqueue in between still wakes us.
                    wake = self._wake = anyio.Event()
                    while self._queue and not self._draining:
                        await slots.acquire()
                        tasks.start_soon(self._run_queued, self._queue.popleft())
                    if not self._draining:
                        await wake.wait()
                # Leaving the task group waits for the executions already started.
        finally:
            if self._drained is not None:
                self._drained.set()

    async def drain(self, timeout: float) -> None:
        """At shutdown: start nothing new and let executions in flight finish (up to
        ``timeout`` seconds), so a deploy does not run an action twice. Runs still queued
        stay ``running`` in the database and execute at the next start."""
        self._draining = True
        if self._wake is not None:
            self._wake.set()
        if self._drained is not None:
            with anyio.move_on_after(timeout):
                await self._drained.wait()

    async def _run_queued(self, ref: RunRef) -> None:
        try:
            run, connection = await self._store.get_run_for_execution(ref.tenant_id, ref.run_id)
            if run.status == RunStatus.RUNNING:
                finish = await self._call(ref.tenant_id, run, connection)
                await self._store.finish_runs([finish])
        except Exception:
            log.exception(
                "action run %s could not be executed; it stays running until the next start",
                ref.run_id,
            )
        finally:
            self._pending.discard(ref.run_id)
            self._require_slots().release()

    async def execute(
        self, tenant_id: str, run: ActionRun, connection: ConnectionRecord
    ) -> RunFinish:
        """Execute one run now (an allowed request), within the bound; never raises for a
        failed execution: the outcome is in the returned `RunFinish`."""
        async with self._require_slots():
            return await self._call(tenant_id, run, connection)

    def _require_slots(self) -> anyio.Semaphore:
        if self._slots is None:
            raise RuntimeError("the executor is not open")
        return self._slots

    async def _call(
        self, tenant_id: str, run: ActionRun, connection: ConnectionRecord
    ) -> RunFinish:
        def failed(type: str, message: str, details: Any = None) -> RunFinish:
            error = ErrorDetail(type=type, message=message, details=details)
            return RunFinish(tenant_id, run.id, error=redact_error(error, secrets))

        secrets = connection.secrets
        connector = self._registry.get(connection.connector)
        if connection.deleted_at is not None:
            return failed(
                "connection_deleted", f"connection {connection.id} was deleted before the run"
            )
        if connector is None:
            return failed(
                "connector_unavailable",
                f"connector {connection.connector!r} is not installed on this broker",
            )
        context = ExecutionContext(run_id=run.id, tenant_id=tenant_id, idempotency_key=run.id)
        try:
            with anyio.fail_after(self._timeout):
                result = await connector.execute(
                    run.action_type,
                    run.input,
                    config=connection.config,
                    secrets=secrets,
                    context=context,
                )
        except ActionFailed as exc:
            return failed(exc.type, exc.message, _json_or_none(exc.details))
        except TimeoutError:
            return failed("timeout", f"the action did not finish within {self._timeout:g} s")
        except Exception:
            # The traceback helps whoever wrote the connector; its text may quote a secret,
            # so it is scrubbed like a result before it reaches the log.
            text = redact(traceback.format_exc(), secrets)
            log.error("connector %r failed action run %s:\n%s", connection.connector, run.id, text)
            return failed(
                "connector_error",
                f"the {connection.connector} connector failed; see the broker log",
            )
        try:
            result = _as_json(result)
        except _NOT_JSON:
            return failed("invalid_result", "the connector returned a result that is not JSON")
        return RunFinish(tenant_id, run.id, result=redact(result, secrets))
