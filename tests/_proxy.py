"""A TCP proxy on 127.0.0.1 in front of a broker, for tests that need the network to misbehave.

It runs on its own thread and event loop (like the broker), so tests on either anyio backend
can use it. ``cut()`` drops every open connection (a dropped stream, a dead proxy);
``paused`` makes new connections wait; ``refuse_paths`` answers requests whose path starts
with one of them with a fixed status and closes (an event stream a proxy will not carry).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable


class TcpProxy:
    """Forward 127.0.0.1:<port> to 127.0.0.1:<target_port>, with faults on demand."""

    def __init__(
        self, target_port: int, *, refuse_paths: Iterable[str] = (), refuse_status: int = 406
    ) -> None:
        self.target_port = target_port
        self.refuse_paths = tuple(p.encode() for p in refuse_paths)
        self.refuse_status = refuse_status
        self.port = 0
        self.connections = 0
        self.refused = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-proxy", daemon=True)

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the proxy did not start")
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._stop)
        self._thread.join(10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        """Drop every open connection, both sides."""
        done = threading.Event()

        def close_all() -> None:
            for writer in list(self._writers):
                writer.transport.abort()
            self._writers.clear()
            done.set()

        self._loop.call_soon_threadsafe(close_all)
        done.wait(5)

    def pause(self) -> None:
        """Hold new connections until `resume` (existing ones keep flowing)."""
        self._loop.call_soon_threadsafe(self._accepting.clear)

    def resume(self) -> None:
        self._loop.call_soon_threadsafe(self._accepting.set)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._stopped = asyncio.Event()
        self._accepting = asyncio.Event()
        self._accepting.set()
        self._started.set()
        await self._stopped.wait()
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await self._server.wait_closed()

    def _stop(self) -> None:
        self._accepting.set()
        self._stopped.set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._accepting.wait()  # a paused proxy: the client sees a slow connect
        self.connections += 1
        head = await reader.read(65536)
        if (
            self.refuse_paths
            and head.split(b" ", 2)[1:2]
            and any(head.split(b" ", 2)[1].startswith(path) for path in self.refuse_paths)
        ):
            self.refused += 1
            writer.write(
                b"HTTP/1.1 %d Refused\r\ncontent-type: text/plain\r\ncontent-length: 7\r\n"
                b"connection: close\r\n\r\nrefused" % self.refuse_status
            )
            await writer.drain()
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        up_writer.write(head)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.discard(writer)
        self._writers.discard(up_writer)
