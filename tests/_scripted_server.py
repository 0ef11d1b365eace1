"""A tiny HTTP/1.1 server on 127.0.0.1 whose every answer a test scripts by hand.

It runs in the test's own event loop (asyncio or trio) and writes raw bytes, so a test can
do what no well-behaved server does: stream chunk by chunk, then drop the connection in the
middle of an event. (``httpx.ASGITransport`` cannot: it buffers whole bodies.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

_REASONS = {200: "OK", 201: "Created", 204: "No Content", 404: "Not Found", 503: "Unavailable"}


@dataclass
class Request:
    """One request as the server read it; header names are lower-cased."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    """Writes one response on the connection the request came in on."""

    stream: anyio.abc.ByteStream
    closed: bool = field(default=False)

    async def send(
        self,
        status: int = 200,
        body: bytes = b"",
        *,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        """A complete response; the connection stays open for the next request."""
        head = {"Content-Type": content_type, "Content-Length": str(len(body)), **(headers or {})}
        await self.stream.send(_head(status, head) + body)

    async def start_stream(
        self, status: int = 200, *, content_type: str = "text/event-stream"
    ) -> None:
        """Begin a chunked response; follow with `chunk`, then `end` or `drop`."""
        head = {"Content-Type": content_type, "Transfer-Encoding": "chunked"}
        await self.stream.send(_head(status, head))

    async def chunk(self, data: bytes) -> None:
        """One chunk of a streamed body."""
        await self.stream.send(b"%x\r\n%s\r\n" % (len(data), data))

    async def end(self) -> None:
        """End a streamed body cleanly, then close the connection."""
        await self.stream.send(b"0\r\n\r\n")
        await self.drop()

    async def drop(self) -> None:
        """Close the connection at once (mid-body, if a body was under way)."""
        self.closed = True
        await self.stream.aclose()


Handler = Callable[[Request, Reply], Awaitable[None]]


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _serve_connection(handler: Handler, stream: anyio.abc.ByteStream) -> None:
    reader = BufferedByteReceiveStream(stream)
    reply = Reply(stream)
    try:
        while not reply.closed:
            try:
                head = await reader.receive_until(b"\r\n\r\n", 65536)
            except (anyio.EndOfStream, anyio.IncompleteRead, anyio.ClosedResourceError):
                return
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            body = await reader.receive_exactly(length) if length else b""
            url = urlsplit(target)
            query = dict(parse_qsl(url.query))
            await handler(Request(method, url.path, query, headers, body), reply)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
        pass  # the client went away first
    finally:
        await stream.aclose()


@asynccontextmanager
async def scripted_server(handler: Handler) -> AsyncIterator[str]:
    """Serve ``handler`` on 127.0.0.1 (a free port) and yield the base URL."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as group:

        async def handle(stream: anyio.abc.SocketStream) -> None:
            await _serve_connection(handler, stream)

        group.start_soon(listener.serve, handle, group)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            group.cancel_scope.cancel()
