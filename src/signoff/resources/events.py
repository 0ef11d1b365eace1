"""``client.events``: the tenant's event log, as pages or as a live stream."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from .._streaming import AsyncStream
from ..errors import RequestValidationError
from ..models import Event
from ._base import Resource

if TYPE_CHECKING:
    from .._pagination import AsyncPaginator

__all__ = ["Events"]

_EVENT = msgspec.json.Decoder(Event)

Cursor = int | Literal["now"]


def _after(after: Cursor | None) -> int | str | None:
    if after is None or after == "now":
        return after
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise RequestValidationError(
            f"after must be a non-negative event seq or 'now', got {after!r}"
        )
    return after


def _types(types: str | Sequence[str] | None) -> str | None:
    if types is None or isinstance(types, str):
        return types
    return ",".join(types)


class Events(Resource):
    """The per-tenant event log: every change, in commit order (``seq``)."""

    def list(
        self,
        *,
        after: Cursor | None = None,
        types: str | Sequence[str] | None = None,
        limit: int | None = None,
    ) -> AsyncPaginator[Event]:
        """Events after the ``after`` seq, oldest first: from the start of the log when
        ``after`` is None, only new ones with ``"now"``.

        ``types`` filters by type, with globs (``"approval.*"``); ``limit`` is the page size
        (1-1000). Iteration ends when it has caught up with the log.
        """
        if limit is not None and not 1 <= limit <= 1000:
            raise RequestValidationError(f"limit must be between 1 and 1000, got {limit!r}")
        params: dict[str, Any] = {"after": _after(after), "types": _types(types), "limit": limit}
        return self._client._paginate(
            "/v1/events", item_type=Event, params=params, cursor_param="after"
        )

    def stream(
        self, *, types: str | Sequence[str] | None = None, after: Cursor | None = None
    ) -> AsyncStream[Event]:
        """Follow the log live: the events after ``after`` (default: from now), then each new one.

        Reconnects after a dropped connection without losing or repeating an event. Raises
        `APIStatusError` with status 410 when ``after`` is older than the broker keeps.
        """
        params: dict[str, Any] = {"types": _types(types), "after": _after(after)}
        return AsyncStream(self._stream(params))

    async def _stream(self, params: dict[str, Any]) -> AsyncGenerator[Event, None]:
        source = self._client._event_source("/v1/events/stream", params=params)
        async with source:
            async for sse in source:
                if sse.event == "ready" or not sse.data:
                    continue
                yield _EVENT.decode(sse.data)
