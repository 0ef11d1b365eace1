"""Shared building blocks of the wire contract: base classes, open enums, pages, errors."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar, dataclass_transform

import msgspec

__all__ = [
    "Timestamp",
    "Model",
    "RequestModel",
    "OpenEnum",
    "Page",
    "ErrorDetail",
    "ErrorBody",
    "JSONObject",
    "MetadataValue",
    "Metadata",
]

T = TypeVar("T")

#: An RFC 3339 timestamp that must carry a timezone (the API always sends UTC, ``...Z``).
Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]

#: Any JSON object.
JSONObject = dict[str, Any]

#: Metadata values are scalars so policies can match them exactly.
MetadataValue = str | int | float | bool | None
Metadata = Annotated[
    dict[Annotated[str, msgspec.Meta(min_length=1, max_length=100)], MetadataValue],
    msgspec.Meta(max_length=50),
]


# msgspec inherits ``frozen`` (not ``kw_only``) at runtime; dataclass_transform tells type
# checkers the same, so subclasses need not repeat the options.
@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(msgspec.field,))
class Model(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every response body: immutable, keyword-only, unknown fields ignored."""


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(msgspec.field,))
class RequestModel(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """Base of every request body: unknown fields are an error, unset defaults are not sent."""


class OpenEnum(enum.StrEnum):
    """A string enum that accepts values it does not know yet.

    A broker newer than this SDK may send a status this SDK has never heard of; it decodes
    to a pseudo-member whose ``value`` is the string sent, so callers can still see it
    (and compare it to a plain string) instead of the whole response failing to decode.
    """

    @classmethod
    def _missing_(cls, value: object) -> OpenEnum | None:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = "UNKNOWN"
        member._value_ = value
        return member

    @property
    def is_known(self) -> bool:
        """False for a value this version of the SDK does not know."""
        return self._name_ != "UNKNOWN"


class Page(Model, Generic[T]):
    """One page of a cursor-paginated list; pass ``next_cursor`` back as ``cursor``."""

    data: list[T]
    next_cursor: str | None = None


class ErrorDetail(Model):
    """What went wrong: a stable machine-readable ``type``, a human ``message``, details."""

    type: str
    message: str
    details: Any = None


class ErrorBody(Model):
    """Every error response of the API: ``{"error": {"type", "message", "details"}}``."""

    error: ErrorDetail
