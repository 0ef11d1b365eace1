"""The outer layer of every request: request id, body-size limit, last-resort error shape,
and one log line per request.

It runs inside Starlette's ``ServerErrorMiddleware`` and outside the exception handlers, so
it sees every response (including 404s and 500s) and can stamp ``X-Request-Id`` on all of them.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .http import ApiError, error_response

__all__ = ["RequestMiddleware", "PayloadTooLarge"]

log = logging.getLogger("signoff.server")
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")


class PayloadTooLarge(ApiError):
    """The body is over the configured limit (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            "payload_too_large",
            f"request body is larger than the limit of {limit} bytes",
            {"limit": limit},
        )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestMiddleware:
    """Request ids, the body-size limit, the 500 fallback and the request log."""

    def __init__(self, app: ASGIApp, *, max_body_size: int, log_requests: bool = True) -> None:
        self.app = app
        self.max_body_size = max_body_size
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        caller_id = _header(scope, b"x-request-id")
        request_id = (
            caller_id
            if caller_id and _SANE_REQUEST_ID.match(caller_id)
            else f"req_{secrets.token_hex(12)}"
        )
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False
        limit = self.max_body_size
        received = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(limit)
            return message

        try:
            declared = _header(scope, b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await error_response(PayloadTooLarge(limit))(scope, receive, send_with_id)
            else:
                await self.app(scope, limited_receive, send_with_id)
        except Exception:
            log.exception(
                "unhandled error in %s %s (request %s)", scope["method"], scope["path"], request_id
            )
            if not response_started:
                error = ApiError(
                    500,
                    "internal_error",
                    f"the broker failed to handle this request; the request id is {request_id}",
                )
                await error_response(error)(scope, receive, send_with_id)
        finally:
            if self.log_requests:
                log.info(
                    "%s %s %d %.1fms request_id=%s key=%s",
                    scope["method"],
                    scope["path"],  # never the query string: it may carry cursors or ids
                    status,
                    (time.perf_counter() - started) * 1000,
                    request_id,
                    state.get("key_id", "-"),
                )
