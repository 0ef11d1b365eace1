"""``client.actions``: run actions through connections, one or many; follow them; prove them."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterable, Iterable, Sequence
from typing import TYPE_CHECKING

from .._action_items import ActionItem, ActionResult, Progress
from .._execute_many import Engine, collect, completions
from .._streaming import MAX_HOLD, AsyncStream, follow_snapshots
from .._waits import ACTION_RUNS, WaitTimedOut
from ..errors import ActionTimeout, RequestValidationError, SignoffError
from ..models import ActionRequest, ActionRun, EvidencePack, JSONObject, MetadataValue
from ._base import Resource, build_body, check_timeout, last_state, long_poll, page_limit, path_id

if TYPE_CHECKING:
    from .._pagination import AsyncPaginator

__all__ = ["Actions"]


class Actions(Resource):
    """Governed actions: policy decides, a human approves if needed, the broker runs them."""

    async def execute(
        self,
        *,
        connection_id: str,
        action_type: str,
        input: JSONObject,
        metadata: dict[str, MetadataValue] | None = None,
        idempotency_key: str | None = None,
        wait: bool = False,
        timeout: float | None = None,
    ) -> ActionRun:
        """Run ``action_type`` through a connection, as policy allows.

        Policy decides on ``<connector>.<action_type>`` and ``metadata``: allowed runs come
        back ``succeeded`` or ``failed``, denied ones ``denied``, and ones a person must
        approve ``awaiting_approval`` (with ``approval_id``). With ``wait=True`` the call waits
        through the approval until the run is finished, however it ends (check ``status``);
        ``timeout`` bounds that wait (seconds; None: until the approval is settled) and running
        out raises `ActionTimeout` carrying the run as last seen. Retries reuse one
        idempotency key, so a retry never runs the action twice.
        """
        check_timeout(timeout)
        body = build_body(
            ActionRequest,
            {
                "connection_id": connection_id,
                "action_type": action_type,
                "input": input,
                "metadata": metadata,
            },
        )
        run = await self._client._post(
            "/v1/actions", cast_to=ActionRun, body=body, idempotency_key=idempotency_key
        )
        if wait and not run.is_terminal:
            return await self.wait(run.id, timeout=timeout)
        return run

    async def get(
        self, run_id: str, *, wait: float | None = None, after_version: int | None = None
    ) -> ActionRun:
        """Read a run. With ``wait`` (≤ 25 s), the broker holds the request until the run's
        version passes ``after_version`` or it finishes (a long-poll)."""
        params, timeout = long_poll(wait, after_version, hold=MAX_HOLD)
        return await self._client._get(
            f"/v1/actions/{path_id(run_id, 'run_id')}",
            cast_to=ActionRun,
            params=params,
            timeout=timeout,
            held=wait is not None,
        )

    def list(
        self,
        *,
        status: str | Sequence[str] | None = None,
        connection_id: str | None = None,
        action_type: str | None = None,
        ids: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> AsyncPaginator[ActionRun]:
        """List runs, newest first; iterating the result fetches pages as it goes.

        ``limit`` is the page size (1-200). ``ids`` fetches up to 100 known runs at once.
        """
        if ids is not None and len(ids) > 100:
            raise RequestValidationError("ids takes at most 100 run ids per call")
        params = {
            "status": status,
            "connection_id": connection_id,
            "action_type": action_type,
            "id": ids,
            "limit": page_limit(limit, 200),
        }
        return self._client._paginate("/v1/actions", item_type=ActionRun, params=params)

    def stream(self, run_id: str) -> AsyncStream[ActionRun]:
        """Each new state of one run, starting with the current one, until it is finished.

        ``async with client.actions.stream(id) as updates: async for run in updates: ...``.
        Reconnects after a dropped connection; falls back to long-polling where event streams
        do not get through.
        """
        return AsyncStream(follow_snapshots(self._client, ACTION_RUNS, path_id(run_id, "run_id")))

    async def wait(self, run_id: str, *, timeout: float | None = None) -> ActionRun:
        """Wait until the run has finished (succeeded, failed, denied or cancelled); return it.

        Only running out of ``timeout`` seconds raises (`ActionTimeout`, with the last state
        seen). Like approval waits, every concurrent wait of this client shares one event
        stream. ``timeout=None`` waits until the run's approval, if any, is settled.
        """
        path_id(run_id, "run_id")
        check_timeout(timeout)
        try:
            return await self._client._wait_hub.wait(ACTION_RUNS, run_id, timeout)
        except WaitTimedOut as exc:
            latest = await last_state(exc.latest, lambda: self.get(run_id), run_id)
            raise ActionTimeout(latest) from None

    async def evidence(self, run_id: str) -> EvidencePack:
        """The run's evidence pack (``audit:read`` scope): the run, its approval and policy
        decision, digests of its input and result, and every audit entry about them.

        Check it offline, without trusting the broker, with `signoff.evidence.verify`.
        """
        return await self._client._get(
            f"/v1/actions/{path_id(run_id, 'run_id')}/evidence", cast_to=EvidencePack
        )

    async def execute_many(
        self,
        items: Iterable[ActionItem] | AsyncIterable[ActionItem],
        *,
        concurrency: int = 32,
        batch_size: int = 100,
        ordered: bool = True,
        fail_fast: bool = False,
        on_progress: Progress | None = None,
    ) -> builtins.list[ActionRun | SignoffError]:
        """Run many actions in batched, concurrent calls; one result per item.

        ``items`` are `ActionRequest`s or dicts with the same keys (``connection_id``,
        ``action_type``, ``input``, ``metadata``; optionally ``idempotency_key``), from any
        iterable or async iterable, read lazily: at most ``concurrency * batch_size`` items
        are held at once, however long the input. Items go ``batch_size`` (≤ 100) to a
        ``POST /v1/actions/batch`` call (1: one ``POST /v1/actions`` each), with at most
        ``concurrency`` calls in flight and never more than the client's ``max_concurrency``
        (4 by default: batching, not parallel calls, is what makes this fast; for more in
        flight create the client with a higher ``max_concurrency``). Batches are sent once
        full or when the input ends, so feed a slow trickle of items with a small
        ``batch_size``. Each item is sent with its own idempotency key, reused by every retry.

        Returns each item's `ActionRun`, or the error that stopped it, in input order
        (``ordered=False``: in the order they finished). A failure never stops the other
        items: a refused item gets its status error (e.g. `UnprocessableEntityError`), an
        item that is not a valid request a `RequestValidationError`, and every item of a
        batch call that failed after retries that call's error. With ``fail_fast=True`` the
        first failure cancels the rest and is raised. ``on_progress(done, total)`` is called
        as results land (``total`` is None when ``items`` has no ``len()``). Runs that need a
        human come back ``awaiting_approval``: ``wait()`` on them if you need the outcome.
        """
        engine = Engine(
            self._client,
            concurrency=concurrency,
            batch_size=batch_size,
            fail_fast=fail_fast,
            on_progress=on_progress,
        )
        return await collect(engine, items, ordered=ordered)

    def as_completed(
        self,
        items: Iterable[ActionItem] | AsyncIterable[ActionItem],
        *,
        concurrency: int = 32,
        batch_size: int = 100,
        fail_fast: bool = False,
        on_progress: Progress | None = None,
    ) -> AsyncStream[ActionResult]:
        """Like `execute_many`, but yield each item's `ActionResult` as soon as it lands.

        ``async with client.actions.as_completed(items) as results: async for r in results:``
        where ``r.index`` is the item's position in the input and ``r.run`` or ``r.error``
        its outcome. Nothing is collected, so this suits inputs of any length. Leaving the
        ``async with`` block (or cancelling it) cancels the requests still in flight.
        """
        engine = Engine(
            self._client,
            concurrency=concurrency,
            batch_size=batch_size,
            fail_fast=fail_fast,
            on_progress=on_progress,
        )
        return AsyncStream(completions(engine, items))
