"""A minimal HTTP/1.1 keep-alive responder on 127.0.0.1, for client benchmarks.

Every request gets the same 200 response with a JSON approval body (``--body run``: an
action run), so the server costs
~10-15 us per request and the client's own cost dominates what is measured. Prints its port
on the first line of stdout, then serves until stdin closes or ``--lifetime`` seconds pass.

    python benchmarks/_rawserver.py [--lifetime 120]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import threading

BODY = json.dumps(
    {
        "id": "apr_01JD8Y3M5Q2W7E9R4T6Y8U0I1O",
        "status": "pending",
        "action": "payments.refund",
        "version": 1,
        "created_at": "2026-11-21T10:04:12.123456Z",
        "updated_at": "2026-11-21T10:04:12.123456Z",
        "summary": "Refund $42.00 to customer cus_9f2",
        "reason": "Customer reported a duplicate charge",
        "function_name": "refund",
        "arguments": {"amount": 4200, "currency": "usd", "customer": "cus_9f2"},
        "metadata": {"team": "billing", "risk": "low"},
        "expires_at": "2026-11-22T10:04:12.123456Z",
        "requested_by": "key_71c",
    }
).encode()
RUN_BODY = json.dumps(
    {
        "id": "run_01JD8Y3M5Q2W7E9R4T6Y8U0I1O",
        "connection_id": "con_1",
        "action_type": "echo",
        "status": "succeeded",
        "version": 2,
        "created_at": "2026-11-21T10:04:12.123456Z",
        "updated_at": "2026-11-21T10:04:12.123456Z",
        "input": {"i": 1},
        "outcome": "allow",
        "result": {"i": 1},
    }
).encode()


def response(body: bytes) -> bytes:
    """The one response this server gives, around ``body``."""
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: req_bench\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )


RESPONSE = response(BODY)


class Responder(asyncio.Protocol):
    """Answers each complete request (head plus Content-Length body) with RESPONSE."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        replies = 0
        while (end := buffer.find(b"\r\n\r\n")) >= 0:
            head = buffer[:end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                length = int(head[at + 15 :].split(b"\r\n", 1)[0])
            if len(buffer) < end + 4 + length:
                break
            buffer = buffer[end + 4 + length :]
            replies += 1
        self.buffer = buffer
        if replies and self.transport is not None:
            self.transport.write(RESPONSE * replies)


async def main(lifetime: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Responder, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    parent_gone = asyncio.Event()

    def watch_stdin() -> None:
        sys.stdin.read()  # returns when the parent closes our stdin (or exits)
        loop.call_soon_threadsafe(parent_gone.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    async with server:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(parent_gone.wait(), timeout=lifetime)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--lifetime", type=float, default=120.0)
    parser.add_argument("--body", choices=("approval", "run"), default="approval")
    args = parser.parse_args()
    if args.body == "run":
        RESPONSE = response(RUN_BODY)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(main(args.lifetime))
