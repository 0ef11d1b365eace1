"""Identifiers and timestamps as the broker writes them."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

__all__ = ["BASE62", "base62", "new_id", "utcnow", "format_ts", "parse_ts"]

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# The stored form: fixed precision, so text order is time order.
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def base62(data: bytes, length: int) -> str:
    """Encode bytes as exactly ``length`` base62 characters (left-padded with zeros)."""
    number = int.from_bytes(data, "big")
    chars = []
    while number:
        number, digit = divmod(number, 62)
        chars.append(BASE62[digit])
    return "".join(reversed(chars)).rjust(length, "0")[-length:]


def new_id(prefix: str) -> str:
    """A fresh id with its type prefix, e.g. ``apr_3kT9...`` (128 random bits)."""
    return f"{prefix}_{base62(secrets.token_bytes(16), 22)}"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def format_ts(value: datetime) -> str:
    """The stored text form of a timestamp (UTC, microseconds, ``Z``)."""
    return value.astimezone(UTC).strftime(_TS_FORMAT)


def parse_ts(text: str) -> datetime:
    """Read a timestamp written by `format_ts`."""
    # fromisoformat reads exactly this form (with its "Z") some fifty times faster than
    # strptime, which matters when a page of a hundred rows has four timestamps each.
    return datetime.fromisoformat(text)
