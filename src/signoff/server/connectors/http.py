"""The ``http`` connector: each action type is one HTTP call to a configured service.

Running an action sends the action type's ``method`` to ``base_url + path``, with ``{field}``
placeholders in the path filled from the input (URL-quoted) and the rest of the input as the
JSON body (as query parameters for ``GET`` and ``DELETE``). The run's id goes along as
``Idempotency-Key``; it and the secrets' headers replace a config header of the same name
(in any case). The result is ``{"status_code", "body"}``, the body parsed as JSON when it is
JSON, else text, cut at 64 KiB (then ``"truncated": true``). A non-2xx answer fails the run
(``http_error``), so do a timeout (``timeout``) and a failure to connect
(``connection_error``). Redirects are not followed.

Secrets become headers and go nowhere else: no message, result or log line carries a request
header. (The executor also scrubs secret values from whatever a target echoes back.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import msgspec

from ... import __version__
from ...models import ActionType
from . import http_config
from .base import ActionFailed, Connector, ExecutionContext

__all__ = ["HttpConnector", "MAX_BODY"]

#: The most of a response body kept in a run's result.
MAX_BODY = 64 * 1024
_USER_AGENT = f"signoff-broker/{__version__}"
_BODYLESS = frozenset({"GET", "DELETE"})


def _text(value: Any) -> str:
    """A value as it goes into a URL: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    return msgspec.json.encode(value).decode()


def _segment(value: Any) -> str:
    quoted = quote(_text(value), safe="")
    # "." and ".." would be resolved as relative segments, leaving the configured path.
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


def _fill_path(template: str, input: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The path with its placeholders filled, and the input fields left over."""
    rest = dict(input)
    for name in http_config.PLACEHOLDER.findall(template):
        if name not in input:  # the schema requires placeholders; a plugin schema might not
            raise ActionFailed("invalid_input", f"the input has no field {name!r} for the path")
        rest.pop(name, None)

    def fill(match: Any) -> str:
        return _segment(input[match.group(1)])

    return http_config.PLACEHOLDER.sub(fill, template), rest


_QueryItem = tuple[str, str | int | float | bool | None]


def _query(fields: Mapping[str, Any]) -> list[_QueryItem]:
    params: list[_QueryItem] = []
    for name, value in fields.items():
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        params.extend((name, _text(item)) for item in values)
    return params


async def _read_body(response: httpx.Response) -> tuple[bytes, bool]:
    """At most `MAX_BODY` bytes of the body, and whether there was more."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY:
            return b"".join(chunks)[:MAX_BODY], True
    return b"".join(chunks), False


def _parse(response: httpx.Response, content: bytes, truncated: bool) -> Any:
    if not content:
        return None
    if not truncated and "json" in response.headers.get("content-type", "").lower():
        try:
            return msgspec.json.decode(content)
        except msgspec.DecodeError:
            pass  # says JSON, is not: keep it as text
    return content.decode(response.charset_encoding or "utf-8", errors="replace")


class HttpConnector(Connector):
    """Calls HTTP services; one connection pool shared by every connection, no cookies kept."""

    name = "http"

    def __init__(self) -> None:
        self._transport: httpx.AsyncHTTPTransport | None = None

    def validate(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
        """Check the config and the secret names."""
        http_config.validate_config(config)
        http_config.validate_secrets(secrets)

    def action_types(self, config: Mapping[str, Any]) -> list[ActionType]:
        """The action types the config declares."""
        return http_config.action_types(config)

    def _pool(self) -> httpx.AsyncHTTPTransport:
        # The transport alone, not a client: a client would keep cookies, and one tenant's
        # cookies must never ride along on another's request.
        if self._transport is None:
            self._transport = httpx.AsyncHTTPTransport(
                retries=0, limits=httpx.Limits(max_connections=100, max_keepalive_connections=20)
            )
        return self._transport

    async def execute(
        self,
        action_type: str,
        input: Mapping[str, Any],
        *,
        config: Mapping[str, Any],
        secrets: Mapping[str, str],
        context: ExecutionContext,
    ) -> Any:
        """Make the call; the result is the answer's status code and body."""
        target = http_config.endpoint(config, action_type)
        path, rest = _fill_path(target.path, input)
        url = target.base_url + path
        # Merged case-insensitively, later ones winning: a config header "authorization" or
        # "idempotency-key" must replace the secret's or the run's, never ride along beside it.
        headers = httpx.Headers({"User-Agent": _USER_AGENT})
        headers.update(target.headers)
        headers.update(http_config.secret_headers(secrets))
        headers["Idempotency-Key"] = context.idempotency_key
        if target.method in _BODYLESS:
            request = httpx.Request(target.method, url, params=_query(rest), headers=headers)
        else:
            headers["Content-Type"] = "application/json"
            request = httpx.Request(
                target.method, url, content=msgspec.json.encode(rest), headers=headers
            )
        request.extensions["timeout"] = httpx.Timeout(target.timeout).as_dict()
        where = f"{target.method} {target.base_url}{target.path}"
        try:
            # httpx's timeouts bound each read; this bounds the whole exchange.
            with anyio.fail_after(target.timeout):
                response = await self._pool().handle_async_request(request)
                try:
                    content, truncated = await _read_body(response)
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            raise ActionFailed(
                "timeout", f"{where} did not answer within {target.timeout:g} s"
            ) from None
        except httpx.TransportError as exc:
            raise ActionFailed(
                "connection_error", f"{where} could not be reached ({type(exc).__name__})"
            ) from None
        body = _parse(response, content, truncated)
        result: dict[str, Any] = {"status_code": response.status_code, "body": body}
        if truncated:
            result["truncated"] = True
        if not 200 <= response.status_code < 300:
            raise ActionFailed(
                "http_error", f"{where} answered {response.status_code}", details=result
            )
        return result

    async def aclose(self) -> None:
        """Close the connection pool."""
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.aclose()
