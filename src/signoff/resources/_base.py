"""What every resource shares: a reference to the client and argument checking."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import anyio
import msgspec

from ..errors import APITimeoutError, RequestValidationError

if TYPE_CHECKING:
    from ..client import AsyncSignoff

M = TypeVar("M")

__all__ = [
    "Resource",
    "build_body",
    "check_timeout",
    "last_state",
    "long_poll",
    "page_limit",
    "path_id",
    "to_seconds",
]

#: How long a timed-out wait may spend reading the state it reports, when it saw none.
_LAST_READ = 5.0


class Resource:
    """Base class of the resources; each holds the client that created it."""

    def __init__(self, client: AsyncSignoff) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def build_body(model: type[M], fields: Mapping[str, Any]) -> M:
    """Validate keyword arguments against a request model before anything is sent.

    The broker validates too, but a mistake caught here costs no round trip and the error
    names the argument: ``ValueError: invalid ApprovalCreate: Expected `int` >= 1 - at
    `$.expires_in```.
    """
    present = {name: value for name, value in fields.items() if value is not None}
    try:
        return msgspec.convert(present, model)
    except msgspec.ValidationError as exc:
        raise RequestValidationError(f"invalid {model.__name__}: {exc}") from None


def path_id(value: str, what: str) -> str:
    """Check an id taken from the caller and quote it for use in a URL path."""
    if not isinstance(value, str) or not value or len(value) > 200:
        raise RequestValidationError(f"{what} must be a non-empty string of at most 200 characters")
    return quote(value, safe="")


def to_seconds(value: float | timedelta | None, what: str) -> int | None:
    """Whole seconds (rounded up) from a number of seconds or a timedelta."""
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise RequestValidationError(f"{what} must be a positive number of seconds, got {value!r}")
    return math.ceil(seconds)


def long_poll(
    wait: float | None, after_version: int | None, *, hold: int
) -> tuple[dict[str, Any], float | None]:
    """Query and per-call timeout of a read that the broker may hold for ``wait`` seconds
    (at most ``hold``) until the subject's version passes ``after_version``."""
    params: dict[str, Any] = {}
    if wait is not None:
        if isinstance(wait, bool) or not isinstance(wait, int | float):
            raise RequestValidationError(f"wait must be a number of seconds, not {wait!r}")
        if not 0 <= wait <= hold:
            raise RequestValidationError(f"wait must be between 0 and {hold} seconds, got {wait!r}")
        params["wait"] = wait
    if after_version is not None:
        params["after_version"] = after_version
    # Room for the hold itself plus an ordinary answer.
    return params, None if wait is None else wait + 15.0


def page_limit(limit: int | None, maximum: int) -> int | None:
    """Check a page size against the route's maximum."""
    if limit is not None and not 1 <= limit <= maximum:
        raise RequestValidationError(f"limit must be between 1 and {maximum}, got {limit!r}")
    return limit


def check_timeout(timeout: float | None) -> None:
    """A wait's ``timeout``: None (no limit) or a positive number of seconds."""
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise RequestValidationError(
            f"timeout must be a positive number of seconds, got {timeout!r}"
        )


async def last_state(latest: M | None, read: Callable[[], Awaitable[M]], what: str) -> M:
    """The state a timed-out wait reports: the last one it saw, or one quick read when the
    time ran out before it could see any (a slow network, a very short timeout)."""
    if latest is not None:
        return latest
    with anyio.move_on_after(_LAST_READ):
        return await read()
    raise APITimeoutError(f"the wait for {what} ran out of time, and its state could not be read")
