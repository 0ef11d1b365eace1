"""``Idempotency-Key`` handling for POSTs: validate the header, fingerprint the request, and
answer a key that was claimed before (replay, 422 or 409).

The claim itself happens in the store, in the write's own transaction: a retried request can
never apply twice, and a request that fails validation or authorization is never recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from starlette.responses import Response

from .._chain import canonical_json
from .http import ApiError
from .operation import Call
from .store.base import IdempotencyClaim, IdempotencyHit, IdempotencyRecord

__all__ = [
    "HEADER",
    "header_key",
    "fingerprint",
    "fingerprint_value",
    "claim_for",
    "replay",
    "run_write",
    "answer_claimed",
]

HEADER = "Idempotency-Key"
R = TypeVar("R")


def header_key(call: Call) -> str | None:
    """The request's ``Idempotency-Key`` (400 ``invalid_request`` if it is malformed)."""
    key = call.request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not all(" " <= char <= "~" for char in key):
        raise ApiError(
            400,
            "invalid_request",
            f"header {HEADER} must be 1-255 printable ASCII characters",
            {"parameter": HEADER},
        )
    return key


def fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 of the method, the path and the canonical JSON of the decoded body."""
    decoded = msgspec.json.decode(body) if body.strip() else None
    return fingerprint_value(method, path, decoded)


def fingerprint_value(method: str, path: str, value: Any) -> str:
    """SHA-256 of the method, the path and the canonical JSON of a body already decoded
    (batch items are fingerprinted as the ``POST /v1/actions`` they stand for)."""
    digest = hashlib.sha256(f"{method}\n{path}\n".encode() + canonical_json(value))
    return digest.hexdigest()


def claim_for(
    call: Call,
    key: str,
    fingerprint: str,
    respond: Callable[[R], tuple[int, bytes]],
    *,
    path: str | None = None,
) -> IdempotencyClaim[R]:
    """The claim of ``key`` by this request (or, with ``path``, by the single request a batch
    item stands for)."""
    return IdempotencyClaim(
        key=key,
        fingerprint=fingerprint,
        method=call.request.method,
        path=path or call.request.url.path,
        api_key_id=call.auth.key_id,
        respond=respond,
    )


def replay(record: IdempotencyRecord, claim: IdempotencyClaim[Any]) -> tuple[int, bytes]:
    """The stored (status, body) of a key claimed before with the same request; 422 for
    another request, 409 while the first is still running."""
    if record.fingerprint != claim.fingerprint:
        raise ApiError(
            422,
            "idempotency_key_reused",
            f"{HEADER} {claim.key!r} was used for a different request ({record.method} "
            f"{record.path} with another body); use a new key for a new request",
            {"idempotency_key": claim.key},
        )
    if record.state != "completed" or record.status_code is None or record.response_body is None:
        raise ApiError(
            409,
            "idempotency_request_in_progress",
            f"the first request with {HEADER} {claim.key!r} is still running; retry shortly",
            {"idempotency_key": claim.key},
            headers={"Retry-After": "1"},
        )
    return record.status_code, record.response_body


def answer_claimed(
    record: IdempotencyRecord, claim: IdempotencyClaim[object], *, replayable: bool = True
) -> Response:
    """The answer for a key claimed before: replay it, or say why not."""
    status, body = replay(record, claim)
    if not replayable:
        raise ApiError(
            409,
            "secret_not_replayable",
            f"the request with {HEADER} {claim.key!r} already succeeded, but its response held "
            "a secret that is shown only once; revoke that key and create a new one",
            {"idempotency_key": claim.key, "response": msgspec.json.decode(body)},
        )
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


async def run_write(
    call: Call,
    respond: Callable[[R], tuple[int, bytes]],
    write: Callable[[IdempotencyClaim[R] | None], Awaitable[R]],
    *,
    replayable: bool = True,
) -> R | Response:
    """Run a store write with the request's key claimed in it.

    Returns the write's result, or the answer for a key claimed before. ``respond`` gives the
    (status, body) that is stored for replay. Call it after the body has been validated.
    """
    key = header_key(call)
    claim: IdempotencyClaim[R] | None = None
    if key is not None:
        request = call.request
        digest = fingerprint(request.method, request.url.path, await request.body())
        claim = claim_for(call, key, digest, respond)
    try:
        return await write(claim)
    except IdempotencyHit as hit:
        assert claim is not None
        return answer_claimed(hit.record, claim, replayable=replayable)  # type: ignore[arg-type]
