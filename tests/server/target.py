"""A service for the ``http`` connector to call: a real HTTP server on 127.0.0.1, in a thread,
that records every request and answers as the test says (or holds the answer until told)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import anyio.to_thread

#: The longest a held answer waits for `Target.release` (a backstop, never a sync).
_HOLD_LIMIT = 10.0


@dataclass
class Hit:
    """One request as the target received it; header names are lower-cased (``headers``
    keeps the last of repeated ones, ``header_list`` every one, in order)."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    header_list: list[tuple[str, str]] = field(default_factory=list)

    def header_values(self, name: str) -> list[str]:
        """Every value sent for a header (any case), in order."""
        return [value for key, value in self.header_list if key == name.lower()]

    def json(self) -> Any:
        """The body, decoded."""
        return json.loads(self.body)


@dataclass
class Target:
    """What the server answers, and what it has seen."""

    status: int = 200
    body: bytes = b'{"ok": true}'
    content_type: str = "application/json"
    hits: list[Hit] = field(default_factory=list)
    url: str = ""
    _hold: threading.Event | None = None
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
        """Answer every later request with this (a dict or list is sent as JSON)."""
        self.status = status
        self.body = json.dumps(body).encode() if isinstance(body, dict | list) else body
        self.content_type = content_type

    def hold(self) -> None:
        """Keep later answers back until `release` (a slow service)."""
        self._hold = threading.Event()

    def release(self) -> None:
        """Send the answers being held back, and stop holding."""
        hold, self._hold = self._hold, None
        if hold is not None:
            hold.set()

    def record(self, hit: Hit) -> threading.Event | None:
        with self._arrived:
            self.hits.append(hit)
            self._arrived.notify_all()
        return self._hold

    async def until_hits(self, count: int, timeout: float = 5.0) -> None:
        """Wait (bounded) until the target has received ``count`` requests."""

        def wait() -> bool:
            with self._arrived:
                return self._arrived.wait_for(lambda: len(self.hits) >= count, timeout)

        assert await anyio.to_thread.run_sync(wait), f"{len(self.hits)} hits, wanted {count}"


def _handler(target: Target) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            hit = Hit(
                method=self.command,
                path=parts.path,
                query=parse_qsl(parts.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length),
                header_list=[(k.lower(), v) for k, v in self.headers.items()],
            )
            hold = target.record(hit)
            if hold is not None:
                hold.wait(_HOLD_LIMIT)
            try:
                self.send_response(target.status)
                self.send_header("Content-Type", target.content_type)
                self.send_header("Content-Length", str(len(target.body)))
                self.end_headers()
                self.wfile.write(target.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the connector gave up waiting (a timeout test)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serve_target() -> Iterator[Target]:
    """A running target on 127.0.0.1 (an ephemeral port), shut down afterwards."""
    target = Target()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(target))
    server.daemon_threads = True
    target.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="test-target", daemon=True
    )
    thread.start()
    try:
        yield target
    finally:
        target.release()
        server.shutdown()
        server.server_close()
        thread.join(5)
