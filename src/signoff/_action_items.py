"""What goes into ``execute_many`` and what comes out: items, checked and encoded once; one
`ActionResult` per item, from the broker's per-item answer."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from ._retry import IN_PROGRESS
from .errors import (
    APIResponseValidationError,
    APIStatusError,
    RequestValidationError,
    SignoffError,
    status_error_class,
)
from .models import ActionBatchItem, ActionBatchResult, ActionRequest, ActionRun

__all__ = [
    "MAX_BATCH",
    "ActionItem",
    "ActionResult",
    "Prepared",
    "Progress",
    "batch_result",
    "check_items",
    "check_options",
    "in_progress",
    "outcome",
    "prepare",
]

#: One item of ``execute_many``: an `ActionRequest` (or `ActionBatchItem`, to choose its
#: idempotency key), or a mapping with the same keys.
ActionItem = ActionRequest | Mapping[str, Any]

#: ``on_progress(done, total)``: results handed over so far, and the number of items when the
#: input has a ``len()`` (else None). Called on the event loop as results land; keep it quick.
Progress = Callable[[int, int | None], object]

MAX_BATCH = 100  # the broker's limit per POST /v1/actions/batch
_FIELDS = ("connection_id", "action_type", "input", "metadata", "idempotency_key")


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What became of one item: its position in the input and either the run or the error.

    ``ok`` means the broker accepted the item and created a run; the run's own ``status``
    says how it went (``succeeded``, ``failed``, ``denied``, ``awaiting_approval``, ...).
    ``idempotency_key`` is the key the item was sent with (None if it was never sent):
    resubmitting the item with it after a connection error can never run the action twice.
    """

    index: int
    idempotency_key: str | None
    run: ActionRun | None = None
    error: SignoffError | None = None

    @property
    def ok(self) -> bool:
        """True when there is a run (no error)."""
        return self.error is None

    def unwrap(self) -> ActionRun:
        """The run, or raise the item's error."""
        if self.error is not None:
            raise self.error
        assert self.run is not None
        return self.run


@dataclass(slots=True)
class Prepared:
    """An item read, validated and encoded, waiting for its batch."""

    index: int
    key: str
    body: bytes  # a batch item (with its key) or, for batch_size=1, a whole request body


def prepare(index: int, item: object, *, single: bool) -> Prepared | ActionResult:
    """Validate one input item and encode it once; a bad item becomes its failed result.

    Validating here rather than raising keeps one malformed item in 100,000 from stopping
    the other 99,999, the same way an item the broker refuses does not.
    """
    fields: Mapping[str, Any]
    if type(item) is dict:  # the common case, and the cheapest check
        fields = item
    elif isinstance(item, ActionRequest):
        fields = {name: getattr(item, name, None) for name in _FIELDS}
    elif isinstance(item, Mapping):
        fields = item
    else:
        message = f"item {index} must be an ActionRequest or a mapping, not {type(item).__name__}"
        return _invalid(index, message)
    present = {name: value for name, value in fields.items() if value is not None}
    if "idempotency_key" not in present:
        present["idempotency_key"] = secrets.token_hex(16)
    try:
        # Instances are checked too: constructing a Struct in Python validates nothing.
        checked = msgspec.convert(present, ActionBatchItem)
        if single:  # the key goes in the header; the body is a plain ActionRequest
            body = msgspec.json.encode(
                ActionRequest(
                    connection_id=checked.connection_id,
                    action_type=checked.action_type,
                    input=checked.input,
                    metadata=checked.metadata,
                )
            )
        else:
            body = msgspec.json.encode(checked)
    except msgspec.ValidationError as exc:
        return _invalid(index, f"item {index} is not a valid ActionRequest: {exc}")
    except (TypeError, ValueError, msgspec.EncodeError) as exc:
        return _invalid(index, f"item {index} cannot be sent as JSON: {exc}")
    assert checked.idempotency_key is not None
    return Prepared(index, checked.idempotency_key, body)


def _invalid(index: int, message: str) -> ActionResult:
    return ActionResult(index, None, error=RequestValidationError(message, index=index))


def check_options(concurrency: int, batch_size: int) -> None:
    for name, value, top in (
        ("concurrency", concurrency, None),
        ("batch_size", batch_size, MAX_BATCH),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, not {value!r}")
        if value < 1 or (top is not None and value > top):
            bounds = f"between 1 and {top}" if top else "at least 1"
            raise ValueError(f"{name} must be {bounds}, not {value}")


def check_items(items: object) -> None:
    if isinstance(items, str | bytes | Mapping | ActionRequest) or not isinstance(
        items, Iterable | AsyncIterable
    ):
        raise TypeError(
            "items must be an iterable or async iterable of ActionRequests or mappings, "
            f"not {type(items).__name__}"
        )


def in_progress(result: ActionResult) -> bool:
    """Whether the broker said the item's key is still executing elsewhere (ask again)."""
    error = result.error
    return (
        isinstance(error, APIStatusError) and error.status_code == 409 and error.type == IN_PROGRESS
    )


def batch_result(item: Prepared, answer: ActionBatchResult, request_id: str | None) -> ActionResult:
    """One batch item's answer as its result: the run, or the error the status stands for."""
    status = answer.status_code
    if 200 <= status < 300 and answer.run is not None:
        return ActionResult(item.index, item.key, run=answer.run)
    if 200 <= status < 300:
        error: SignoffError = APIResponseValidationError(
            f"batch item {item.index} answered {status} without a run", request_id=request_id
        )
    elif answer.error is not None:
        detail = answer.error
        error = status_error_class(status)(
            detail.message,
            status_code=status,
            type=detail.type,
            details=detail.details,
            request_id=request_id,
        )
    else:
        error = status_error_class(status)(
            f"batch item {item.index} failed with status {status}",
            status_code=status,
            request_id=request_id,
        )
    return ActionResult(item.index, item.key, error=error)


def outcome(result: ActionResult) -> ActionRun | SignoffError:
    """The run, or the error: what ``execute_many`` returns for one item."""
    if result.error is not None:
        return result.error
    assert result.run is not None
    return result.run
