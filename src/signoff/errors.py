"""Every exception signoff raises, in one tree.

```
SignoffError
├── APIConnectionError               the broker could not be reached (after retries)
│   └── APITimeoutError              no answer in time (per attempt, or the call's deadline)
├── APIStatusError                   the broker answered with an error status
│   │                                (status_code, request_id, type, message, details, response)
│   ├── BadRequestError              400  malformed request
│   ├── AuthenticationError          401  no key, or a bad, expired or revoked one
│   ├── PermissionDeniedError        403  the key lacks a scope (the message names it)
│   ├── NotFoundError                404  no such thing, or not this tenant's
│   ├── ConflictError                409  a state conflict, e.g. an approval decided twice
│   ├── RequestTooLargeError         413  body over the broker's limit
│   ├── UnprocessableEntityError     422  failed validation (the message names the field)
│   ├── RateLimitError               429  too many requests (retry_after, in seconds)
│   └── InternalServerError          5xx  the broker failed
├── APIResponseValidationError       a 2xx body that does not match the contract
├── ApprovalError                    a human decision did not end in "approved" (approval)
│   ├── ApprovalDenied               a person (or a policy) said no
│   ├── ApprovalExpired              nobody decided before the approval expired
│   ├── ApprovalCancelled            the request was withdrawn
│   └── ApprovalTimeout              no decision within the caller's own timeout
├── ActionTimeout                    an action run not finished within the caller's timeout (run)
├── RequestValidationError           refused by the SDK before sending (also a ValueError)
└── WebhookVerificationError         a webhook's signature, timestamp or headers are wrong
```

Status errors are raised by every call once retries are spent; the approval branch is raised
by the `require_approval` gate (``approvals.wait()`` returns a denied or expired approval
rather than raising, and raises only `ApprovalTimeout`). Likewise ``actions.wait()`` and
``actions.execute(wait=True)`` return failed and denied runs and raise only `ActionTimeout`.
``actions.execute_many()`` never raises for one item: each failed item's result *is* its
error (a status error, or `RequestValidationError` for an item that is not a valid
request). ``str(err)`` always includes the
request id when the broker sent one, so a log line is enough to find the request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

E = TypeVar("E", bound=BaseException)

if TYPE_CHECKING:
    import httpx

    from .models import ActionRun, Approval

__all__ = [
    "SignoffError",
    "APIConnectionError",
    "APITimeoutError",
    "APIStatusError",
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "RequestTooLargeError",
    "UnprocessableEntityError",
    "RateLimitError",
    "InternalServerError",
    "APIResponseValidationError",
    "ApprovalError",
    "ApprovalDenied",
    "ApprovalExpired",
    "ApprovalCancelled",
    "ApprovalTimeout",
    "ActionTimeout",
    "RequestValidationError",
    "WebhookVerificationError",
    "status_error_class",
]


class SignoffError(Exception):
    """Base class of every exception signoff raises."""


class APIConnectionError(SignoffError):
    """The broker could not be reached: refused, reset, DNS, TLS, or a broken stream."""

    def __init__(self, message: str = "could not connect to the signoff broker") -> None:
        super().__init__(message)
        self.message = message


class APITimeoutError(APIConnectionError):
    """The broker did not answer in time, or the call's total deadline ran out."""

    def __init__(self, message: str = "the request to the signoff broker timed out") -> None:
        super().__init__(message)


class APIStatusError(SignoffError):
    """The broker answered with an error status.

    ``type``, ``message`` and ``details`` come from the error body
    (``{"error": {"type", "message", "details"}}``); when the body is not that shape (an HTML
    page from a proxy, say), ``type`` is ``"http_error"`` and ``message`` a short description.
    """

    status_code: int

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        type: str = "http_error",
        details: Any = None,
        request_id: str | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.type = type
        self.details = details
        self.request_id = request_id
        self.response = response

    def __str__(self) -> str:
        text = f"{self.status_code} {self.type}: {self.message}"
        if self.request_id:
            text += f" (request {self.request_id})"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_status_error, (type(self), self.message, self.__getstate__()))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["response"] = None  # responses hold sockets and locks; they do not pickle
        return state


def _rebuild_status_error(
    cls: type[APIStatusError], message: str, state: dict[str, Any]
) -> APIStatusError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class BadRequestError(APIStatusError):
    """400: the request was malformed (bad JSON, a bad query parameter)."""

    status_code = 400


class AuthenticationError(APIStatusError):
    """401: no API key, or one that is unknown, expired or revoked."""

    status_code = 401


class PermissionDeniedError(APIStatusError):
    """403: the key is valid but lacks the scope this call needs."""

    status_code = 403


class NotFoundError(APIStatusError):
    """404: no such resource, or it belongs to another tenant."""

    status_code = 404


class ConflictError(APIStatusError):
    """409: the resource is not in a state that allows this, e.g. already decided."""

    status_code = 409


class RequestTooLargeError(APIStatusError):
    """413: the request body is over the broker's size limit."""

    status_code = 413


class UnprocessableEntityError(APIStatusError):
    """422: the body failed validation; ``message`` names the field."""

    status_code = 422


class RateLimitError(APIStatusError):
    """429: too many requests. ``retry_after`` is how long the broker asked to wait (seconds)."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class InternalServerError(APIStatusError):
    """5xx: the broker (or a proxy in front of it) failed."""

    status_code = 500


class APIResponseValidationError(SignoffError):
    """The broker answered 2xx with a body that does not match the contract (a proxy's page,
    a truncated body, or a broker too old or too new for this SDK)."""

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id

    def __str__(self) -> str:
        return f"{self.message} (request {self.request_id})" if self.request_id else self.message


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: RequestTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The exception class for an HTTP error status."""
    if status_code >= 500:
        return InternalServerError
    return _STATUS_CLASSES.get(status_code, APIStatusError)


class ApprovalError(SignoffError):
    """A gated call did not get an "approved": ``approval`` is the approval as it stands."""

    def __init__(self, approval: Approval, message: str | None = None) -> None:
        self.approval = approval
        super().__init__(message or self._describe(approval))

    def _describe(self, approval: Approval) -> str:
        return f"approval {approval.id} for {approval.action!r} is {approval.status.value}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.approval, str(self)))


class ApprovalDenied(ApprovalError):
    """Someone (or a policy) denied the approval."""

    def _describe(self, approval: Approval) -> str:
        who = f" by {approval.decided_by}" if approval.decided_by else ""
        why = f": {approval.comment}" if approval.comment else ""
        return f"approval {approval.id} for {approval.action!r} was denied{who}{why}"


class ApprovalExpired(ApprovalError):
    """Nobody decided before the approval's ``expires_at``."""

    def _describe(self, approval: Approval) -> str:
        return f"approval {approval.id} for {approval.action!r} expired without a decision"


class ApprovalCancelled(ApprovalError):
    """The approval request was withdrawn before anyone decided."""

    def _describe(self, approval: Approval) -> str:
        return f"approval {approval.id} for {approval.action!r} was cancelled"


class ApprovalTimeout(ApprovalError):
    """No decision arrived within the caller's timeout; ``approval`` is the last state seen."""

    def _describe(self, approval: Approval) -> str:
        return (
            f"no decision on approval {approval.id} for {approval.action!r} in time "
            f"(still {approval.status.value})"
        )


class ActionTimeout(SignoffError):
    """An action run did not finish within the caller's timeout; ``run`` is the last state
    seen (usually ``awaiting_approval``: nobody has decided yet)."""

    def __init__(self, run: ActionRun, message: str | None = None) -> None:
        self.run = run
        super().__init__(
            message
            or f"action run {run.id} ({run.action_type} on {run.connection_id}) did not finish "
            f"in time (still {run.status.value}); wait again with actions.wait({run.id!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.run, str(self)))


class RequestValidationError(SignoffError, ValueError):
    """A request the SDK refused before sending anything: a missing field, a wrong type.

    Also a `ValueError`. ``execute_many`` returns one as the result of a malformed item
    (``index`` is the item's position in the input), so the other items still run.
    """

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.index = index

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_validation_error, (self.message, self.index))


def _rebuild_validation_error(message: str, index: int | None) -> RequestValidationError:
    return RequestValidationError(message, index=index)


class WebhookVerificationError(SignoffError):
    """A webhook failed verification; ``reason`` is a short machine-readable code."""

    def __init__(self, message: str, *, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


def _copied(error: E) -> E:
    """A copy of an error handed to many callers, so raising it in each does not pile every
    caller's traceback onto one object (and a note added for one is not seen by all)."""
    import copy

    try:
        return copy.copy(error)
    except Exception:
        return error
