"""Values as SQLite keeps them, shared by every table module: JSON and timestamp columns, the
opaque list cursors, and the pages lists are cut into."""

from __future__ import annotations

import base64
import binascii
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import msgspec

from ..ids import format_ts, parse_ts
from .base import InvalidCursor, PageResult

__all__ = [
    "dumps",
    "loads",
    "ts",
    "opt_ts",
    "encode_cursor",
    "decode_cursor",
    "page_of",
    "newest_first",
]

T = TypeVar("T")

_json_encoder = msgspec.json.Encoder()


def dumps(value: Any) -> str:
    """JSON text for a JSON column."""
    return _json_encoder.encode(value).decode()


def loads(text: str | None) -> Any:
    """A JSON column's value (None stays None)."""
    return None if text is None else msgspec.json.decode(text)


def ts(value: datetime) -> str:
    """A timestamp column's text."""
    return format_ts(value)


def opt_ts(text: str | None) -> datetime | None:
    """A nullable timestamp column's value."""
    return None if text is None else parse_ts(text)


def encode_cursor(kind: str, *position: Any) -> str:
    """An opaque list cursor: which list it belongs to and where the page ended."""
    raw = msgspec.json.encode([kind, *position])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(kind: str, cursor: str, arity: int) -> list[Any]:
    """The position inside a cursor from `encode_cursor`; `InvalidCursor` if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise InvalidCursor(cursor) from exc
    if (
        not isinstance(value, list)
        or len(value) != arity + 1
        or value[0] != kind
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:])
    ):
        raise InvalidCursor(cursor)
    return value[1:]


def page_of(
    rows: Sequence[sqlite3.Row],
    limit: int,
    item: Callable[[sqlite3.Row], T],
    *,
    kind: str,
    position: tuple[str, ...] = ("pos",),
) -> PageResult[T]:
    """A page of at most ``limit`` items from rows read with ``LIMIT limit + 1``: the extra
    row only says that another page follows, whose cursor (of ``kind``) holds the
    ``position`` columns of the page's last row."""
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(kind, *(rows[-1][name] for name in position)) if more else None
    return PageResult([item(row) for row in rows], next_cursor)


def newest_first(
    conn: Any,
    table: str,
    tenant_id: str,
    item: Callable[[sqlite3.Row], T],
    *,
    kind: str,
    limit: int,
    cursor: str | None,
    equal: dict[str, object] | None = None,
    any_of: dict[str, Sequence[object]] | None = None,
) -> PageResult[T]:
    """A page of a tenant's rows, newest first, filtered by exact values (``equal``, None
    meaning no filter) and by sets of values (``any_of``, empty meaning no filter).

    ``table`` and the column names are the callers' constants, never request input.
    """
    sql = f"SELECT * FROM {table} WHERE tenant_id = ?"
    params: list[Any] = [tenant_id]
    if cursor is not None:
        (before,) = decode_cursor(kind, cursor, 1)
        sql += " AND pos < ?"
        params.append(before)
    for column, value in (equal or {}).items():
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    for column, values in (any_of or {}).items():
        if values:
            sql += f" AND {column} IN ({', '.join('?' * len(values))})"
            params.extend(values)
    sql += " ORDER BY pos DESC LIMIT ?"
    params.append(limit + 1)
    return page_of(conn.execute(sql, params).fetchall(), limit, item, kind=kind)
