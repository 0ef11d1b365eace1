"""What goes on the wire: JSON bodies in and out (one cached decoder per type), and query
parameters spelled the way the API reads them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import msgspec

from .errors import APIResponseValidationError

__all__ = ["decoder_for", "decode_json", "encode_json", "query_params"]

T = TypeVar("T")


_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def decoder_for(type_: Any) -> msgspec.json.Decoder[Any]:
    """The JSON decoder for ``type_``, built once (building one costs far more than a decode)."""
    decoder = _decoders.get(type_)
    if decoder is None:
        decoder = _decoders[type_] = msgspec.json.Decoder(type_)
    return decoder


def decode_json(
    content: bytes | str, cast_to: type[T], *, what: str, request_id: str | None = None
) -> T:
    """Decode ``content`` into ``cast_to``, or raise `APIResponseValidationError`
    naming ``what`` was being decoded."""
    if cast_to is type(None) and not content:
        return None
    try:
        result: T = decoder_for(cast_to).decode(content)
    except msgspec.DecodeError as exc:
        name = getattr(cast_to, "__name__", None) or repr(cast_to)
        raise APIResponseValidationError(
            f"{what} is not a valid {name}: {exc}", request_id=request_id
        ) from exc
    return result


def encode_json(body: Any) -> bytes | None:
    """A request body (a msgspec Struct, a dict, or None for no body) as JSON bytes."""
    return None if body is None else msgspec.json.encode(body)


def query_params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Query parameters as the API reads them: None dropped, sequences comma-joined,
    booleans as ``true``/``false``."""
    if not params:
        return None
    query: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            query[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            query[name] = str(value)
        elif isinstance(value, Sequence):
            query[name] = ",".join(str(item) for item in value)
        else:
            raise TypeError(
                f"query parameter {name!r} must be a str, int, float, bool or a sequence "
                f"of str, not {type(value).__name__}"
            )
    return query
