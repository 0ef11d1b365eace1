"""``client.approvals``: ask for a human decision, read it, make it, wait for it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from .._streaming import MAX_HOLD, AsyncStream, follow_snapshots
from .._waits import APPROVALS, WaitTimedOut
from ..errors import ApprovalTimeout, RequestValidationError
from ..models import (
    Approval,
    ApprovalCancel,
    ApprovalCreate,
    DecisionCreate,
    JSONObject,
    MetadataValue,
)
from ._base import Resource, build_body, check_timeout, last_state, long_poll, path_id, to_seconds

if TYPE_CHECKING:
    from .._pagination import AsyncPaginator

__all__ = ["Approvals"]


class Approvals(Resource):
    """Approvals: a human decision on one proposed call."""

    async def create(
        self,
        *,
        action: str,
        summary: str | None = None,
        reason: str | None = None,
        function_name: str | None = None,
        arguments: JSONObject | None = None,
        context: JSONObject | None = None,
        metadata: dict[str, MetadataValue] | None = None,
        expires_in: float | timedelta | None = None,
        callback_url: str | None = None,
        dedup_key: str | None = None,
        idempotency_key: str | None = None,
    ) -> Approval:
        """Ask for a decision on ``action``; policies may settle it at once.

        The returned approval is ``pending`` unless a policy allowed or denied it on the spot.
        With ``dedup_key``, an existing pending approval with the same key is returned instead
        of a new one. Retries reuse one idempotency key, so a retry never asks twice.
        """
        body = build_body(
            ApprovalCreate,
            {
                "action": action,
                "summary": summary,
                "reason": reason,
                "function_name": function_name,
                "arguments": arguments,
                "context": context,
                "metadata": metadata,
                "expires_in": to_seconds(expires_in, "expires_in"),
                "callback_url": callback_url,
                "dedup_key": dedup_key,
            },
        )
        return await self._client._post(
            "/v1/approvals", cast_to=Approval, body=body, idempotency_key=idempotency_key
        )

    async def get(
        self, approval_id: str, *, wait: float | None = None, after_version: int | None = None
    ) -> Approval:
        """Read an approval. With ``wait`` (≤ 25 s), the broker holds the request until the
        approval's version passes ``after_version`` or it is decided (a long-poll)."""
        params, timeout = long_poll(wait, after_version, hold=MAX_HOLD)
        return await self._client._get(
            f"/v1/approvals/{path_id(approval_id, 'approval_id')}",
            cast_to=Approval,
            params=params,
            timeout=timeout,
            held=wait is not None,
        )

    def list(
        self,
        *,
        status: str | Sequence[str] | None = None,
        action: str | None = None,
        ids: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> AsyncPaginator[Approval]:
        """List approvals, newest first; iterating the result fetches pages as it goes.

        ``limit`` is the page size (1-200). ``ids`` fetches up to 100 known approvals at once.
        """
        if limit is not None and not 1 <= limit <= 200:
            raise RequestValidationError(f"limit must be between 1 and 200, got {limit!r}")
        if ids is not None and len(ids) > 100:
            raise RequestValidationError("ids takes at most 100 approval ids per call")
        params = {"status": status, "action": action, "id": ids, "limit": limit}
        return self._client._paginate("/v1/approvals", item_type=Approval, params=params)

    async def decide(
        self,
        approval_id: str,
        decision: Literal["approve", "deny"],
        *,
        comment: str | None = None,
        idempotency_key: str | None = None,
    ) -> Approval:
        """Approve or deny a pending approval (needs the ``approvals:decide`` scope).

        Raises `ConflictError` if it was already decided, expired or cancelled.
        """
        body = build_body(DecisionCreate, {"decision": decision, "comment": comment})
        return await self._client._post(
            f"/v1/approvals/{path_id(approval_id, 'approval_id')}/decision",
            cast_to=Approval,
            body=body,
            idempotency_key=idempotency_key,
        )

    async def approve(self, approval_id: str, *, comment: str | None = None) -> Approval:
        """Shorthand for ``decide(approval_id, "approve", comment=...)``."""
        return await self.decide(approval_id, "approve", comment=comment)

    async def deny(self, approval_id: str, *, comment: str | None = None) -> Approval:
        """Shorthand for ``decide(approval_id, "deny", comment=...)``."""
        return await self.decide(approval_id, "deny", comment=comment)

    async def cancel(
        self,
        approval_id: str,
        *,
        comment: str | None = None,
        idempotency_key: str | None = None,
    ) -> Approval:
        """Withdraw a pending approval. Raises `ConflictError` if it is no longer pending."""
        body = build_body(ApprovalCancel, {"comment": comment})
        return await self._client._post(
            f"/v1/approvals/{path_id(approval_id, 'approval_id')}/cancel",
            cast_to=Approval,
            body=body,
            idempotency_key=idempotency_key,
        )

    async def wait(self, approval_id: str, *, timeout: float | None = None) -> Approval:
        """Wait until the approval is decided, expired or cancelled, and return it.

        Returns denied, expired and cancelled approvals too (check ``status``); only running
        out of ``timeout`` seconds raises (`ApprovalTimeout`, carrying the last state seen).
        Waits stream: every concurrent wait of this client shares one event stream, and the
        result arrives within milliseconds of the decision. ``timeout=None`` waits until the
        approval itself expires.
        """
        path_id(approval_id, "approval_id")
        check_timeout(timeout)
        try:
            return await self._client._wait_hub.wait(APPROVALS, approval_id, timeout)
        except WaitTimedOut as exc:
            latest = await last_state(exc.latest, lambda: self.get(approval_id), approval_id)
            raise ApprovalTimeout(latest) from None

    def stream(self, approval_id: str) -> AsyncStream[Approval]:
        """Each new state of one approval, starting with the current one, until it is final.

        ``async with client.approvals.stream(id) as updates: async for a in updates: ...``.
        Reconnects after a dropped connection; falls back to long-polling where event streams
        do not get through.
        """
        return AsyncStream(
            follow_snapshots(self._client, APPROVALS, path_id(approval_id, "approval_id"))
        )
