"""``client.audit``: the tenant's hash-chained audit log, and a check of the whole chain."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..errors import RequestValidationError
from ..models import AuditEntry, AuditVerification
from ._base import Resource, page_limit

if TYPE_CHECKING:
    from .._pagination import AsyncPaginator

__all__ = ["Audit"]


class Audit(Resource):
    """The audit log (``audit:read`` scope): every change to approvals, runs, keys, policies
    and connections, each entry hash-linked to the one before it."""

    def list(
        self,
        *,
        since: datetime | None = None,
        type: str | None = None,
        subject_id: str | None = None,
        limit: int | None = None,
    ) -> AsyncPaginator[AuditEntry]:
        """Entries in ``seq`` order, oldest first.

        ``since`` keeps entries created at or after a (timezone-aware) time, ``type`` filters
        by event type with globs (``"action.*"``), ``subject_id`` keeps the entries about one
        approval, run, key, policy or connection; ``limit`` is the page size (1-1000).
        """
        if since is not None and since.tzinfo is None:
            raise RequestValidationError(
                "since must be timezone-aware (e.g. datetime.now(UTC) - ...)"
            )
        params = {
            "since": None if since is None else _rfc3339(since),
            "type": type,
            "subject_id": subject_id,
            "limit": page_limit(limit, 1000),
        }
        return self._client._paginate("/v1/audit", item_type=AuditEntry, params=params)

    async def verify(self) -> AuditVerification:
        """Have the broker recompute the tenant's whole chain.

        ``ok`` is False when a stored hash or link does not match; ``first_broken_seq`` says
        where. To check one run without trusting the broker, fetch its evidence pack
        (``actions.evidence``) and use `signoff.evidence.verify`.
        """
        return await self._client._get("/v1/audit/verify", cast_to=AuditVerification)


def _rfc3339(moment: datetime) -> str:
    """A timestamp the way the API writes them: UTC, ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
