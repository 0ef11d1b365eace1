"""Action inputs against their JSON Schema (draft 2020-12), with one compiled validator per
distinct schema.

Building a validator is far costlier than running one, and every action request needs one, so
validators are cached by the schema's canonical JSON (bounded: schemas come from connection
configs, which are few). Remote ``$ref`` is never fetched: such a schema cannot be applied, and
the input is refused with a message saying so.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import (  # type: ignore[import-untyped]
    SchemaError,
    best_match,
)
from referencing import Registry
from referencing.exceptions import Unresolvable

from .._chain import canonical_json

__all__ = ["InputError", "schema_error", "validate_input", "json_path"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class InputError:
    """Why an input was refused: where (``$.input.amount``) and what."""

    path: str
    message: str


def json_path(root: str, parts: Iterable[Any]) -> str:
    """A readable JSON path: ``$.input.items[2].sku``; odd keys as ``["a b"]``."""
    path = root
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _IDENTIFIER.match(str(part)):
            path += f".{part}"
        else:
            path += f"[{msgspec.json.encode(str(part)).decode()}]"
    return path


# An empty registry resolves only references inside the schema itself. jsonschema's default
# would fetch any remote $ref with urllib, on the event loop, with no timeout: a request to
# wherever an admin's (or a plugin's) schema points, on every action.
_LOCAL_ONLY: Registry[Any] = Registry()


@functools.lru_cache(maxsize=256)
def _validator(schema_json: bytes) -> Any:
    return Draft202012Validator(msgspec.json.decode(schema_json), registry=_LOCAL_ONLY)


def schema_error(schema: dict[str, Any]) -> str | None:
    """Why ``schema`` is not a valid draft 2020-12 schema usable here, or None when it is."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return str(exc.message)
    remote = next(_remote_refs(schema), None)
    if remote is not None:
        return f"$ref {remote!r} points outside the schema; only local references ('#/...') work"
    return None


def _remote_refs(node: Any) -> Iterator[str]:
    """Every ``$ref``/``$dynamicRef`` in a schema that is not a local ``#...`` pointer."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("$ref", "$dynamicRef") and isinstance(value, str):
                if not value.startswith("#"):
                    yield value
            else:
                yield from _remote_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _remote_refs(item)


def validate_input(
    schema: dict[str, Any], value: Any, *, root: str = "$.input"
) -> InputError | None:
    """The most relevant reason ``value`` fails ``schema`` (None when it passes)."""
    validator = _validator(canonical_json(schema))
    try:
        error = best_match(validator.iter_errors(value))
    except Unresolvable as exc:
        return InputError(root, f"the action type's input_schema cannot be applied: {exc}")
    if error is None:
        return None
    parts = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        # "'amount' is a required property" is about the parent; point at the field itself.
        missing = [name for name in error.validator_value if name not in error.instance]
        if missing:
            parts.append(missing[0])
    return InputError(json_path(root, parts), str(error.message))
