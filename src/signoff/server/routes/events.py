"""``/v1/events``: the tenant's event log as JSON pages (with long-poll) and as SSE."""

from __future__ import annotations

from datetime import timedelta

import anyio
from starlette.responses import Response

from ...models import Event, Page
from ..auth import AuthContext
from ..http import ApiError, JSONResponse, query_float, query_int, query_list
from ..ids import utcnow
from ..operation import Call, Operation, Param
from ..sse import EventStreamResponse, frame
from .common import LAST_EVENT_ID, STANDARD_ERRORS, check_type_glob

__all__ = ["OPERATIONS", "visible_types"]

_SCOPES = ("approvals:read", "actions:read", "admin")
_PAGE = 500  # events per read while a stream catches up


def visible_types(auth: AuthContext) -> list[str] | None:
    """The event type globs the key may see (None: all of them)."""
    if "admin" in auth.scopes:
        return None
    visible = []
    if "approvals:read" in auth.scopes:
        visible.append("approval.*")
    if "actions:read" in auth.scopes:
        visible.append("action.*")
    return visible


def _types(call: Call) -> list[str]:
    return [
        check_type_glob(pattern, parameter="types") for pattern in query_list(call.request, "types")
    ]


def _parse_cursor(raw: str | None, name: str) -> int | None:
    """A cursor as given: a seq, or None for ``now``/absent."""
    if raw is None or raw == "" or raw == "now":
        return None
    if raw.isdigit():
        return int(raw)
    raise ApiError(
        400,
        "invalid_request",
        f"{name} must be an event seq (an integer >= 0) or 'now', got {raw!r}",
        {"parameter": name},
    )


async def _check_cursor(call: Call, cursor: int | None) -> int:
    """The cursor to read after (the head for None); 410 when it cannot be replayed."""
    horizon = utcnow() - timedelta(seconds=call.broker.config.replay_window)
    position = await call.broker.store.log_position(
        call.tenant_id, cursor=cursor or 0, horizon=horizon
    )
    if cursor is None:
        return position.head_seq
    details = {"oldest_seq": position.oldest_seq_in_window, "head_seq": position.head_seq}
    if cursor > position.head_seq:
        raise ApiError(
            410,
            "cursor_expired",
            f"cursor {cursor} is ahead of the log (head is {position.head_seq}); "
            "re-read what you need, then resume with after=now",
            details,
        )
    if position.next_created_at is not None and position.next_created_at < horizon:
        raise ApiError(
            410,
            "cursor_expired",
            f"cursor {cursor} is older than the replay window; "
            "re-read what you need, then resume with after=now",
            details,
        )
    return cursor


async def list_events(call: Call) -> Response:
    """A page of events after a cursor, optionally held until one arrives."""
    request, broker = call.request, call.broker
    raw_after = request.query_params.get("after")
    after = await _check_cursor(call, 0 if raw_after is None else _parse_cursor(raw_after, "after"))
    types = _types(call)
    limit = query_int(request, "limit", default=100, minimum=1, maximum=1000)
    assert limit is not None
    wait = query_float(request, "wait", maximum=broker.config.max_wait)
    visible = visible_types(call.auth)
    store, hub = broker.store, broker.hub

    if not wait:
        found = await store.list_events(
            call.tenant_id, after=after, patterns=types, visible=visible, limit=limit
        )
        return JSONResponse(Page(data=found.events, next_cursor=str(found.cursor)))
    broker.stream_slots.acquire(call.auth.key_id)
    try:
        deadline = anyio.current_time() + wait
        while True:
            changed = hub.watch(call.tenant_id)
            found = await store.list_events(
                call.tenant_id, after=after, patterns=types, visible=visible, limit=limit
            )
            remaining = deadline - anyio.current_time()
            if found.events or hub.closed or remaining <= 0:
                return JSONResponse(Page(data=found.events, next_cursor=str(found.cursor)))
            after = found.cursor
            with anyio.move_on_after(remaining):
                await changed.wait()
    finally:
        broker.stream_slots.release(call.auth.key_id)


class _LogFeed:
    """Frames of the tenant's log after a cursor: the backlog in pages, then live."""

    def __init__(self, call: Call, cursor: int, types: list[str]) -> None:
        self._call = call
        self._cursor = cursor
        self._types = types
        self._visible = visible_types(call.auth)

    def watch(self) -> anyio.Event:
        return self._call.broker.hub.watch(self._call.tenant_id)

    async def read(self) -> tuple[list[bytes], bool]:
        found = await self._call.broker.store.list_events(
            self._call.tenant_id,
            after=self._cursor,
            patterns=self._types,
            visible=self._visible,
            limit=_PAGE,
        )
        self._cursor = found.cursor
        return [frame(id=event.seq, event=event.type, data=event) for event in found.events], False


async def stream_events(call: Call) -> Response:
    """SSE of the tenant's log: a ready frame, then every event after the cursor."""
    request, broker = call.request, call.broker
    last_event_id = request.headers.get("last-event-id")
    if last_event_id is not None:
        cursor = _parse_cursor(last_event_id.strip(), "Last-Event-ID")
    else:
        cursor = _parse_cursor(request.query_params.get("after"), "after")
    types = _types(call)
    cursor = await _check_cursor(call, cursor)
    key_id = call.auth.key_id
    broker.stream_slots.acquire(key_id)
    prelude = b"retry: 3000\n" + frame(id=cursor, event="ready", data={"seq": cursor})
    return EventStreamResponse(
        _LogFeed(call, cursor, types),
        prelude=prelude,
        hub=broker.hub,
        heartbeat=broker.config.heartbeat_interval,
        lifetime=broker.config.event_stream_lifetime,
        on_close=lambda: broker.stream_slots.release(key_id),
    )


_AFTER = Param(
    "after", "query", {"type": "string"}, "An event seq to start after, or `now` for the head."
)
_TYPES = Param(
    "types", "query", {"type": "string"}, "Comma-separated event types; `approval.*` style globs."
)

OPERATIONS = (
    Operation(
        "GET",
        "/v1/events",
        "List events in seq order (long-poll with wait)",
        list_events,
        scopes=_SCOPES,
        responses={200: Page[Event]},
        errors=(*STANDARD_ERRORS, 410),
        params=(
            _AFTER,
            _TYPES,
            Param(
                "limit",
                "query",
                {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                "Events per page (1-1000).",
            ),
            Param(
                "wait",
                "query",
                {"type": "number", "minimum": 0, "maximum": 25},
                "Hold the request up to this many seconds (at most 25) until an event arrives.",
            ),
        ),
    ),
    Operation(
        "GET",
        "/v1/events/stream",
        "Stream the event log (SSE)",
        stream_events,
        scopes=_SCOPES,
        stream=True,
        errors=(*STANDARD_ERRORS, 410),
        params=(_AFTER, _TYPES, LAST_EVENT_ID),
    ),
)
