"""Running the broker: `BrokerThread` (in-process, for tests and ``signoff.embedded()``) and
`serve` (the ``signoff serve`` command).

uvicorn waits for open connections *before* it runs the app's lifespan shutdown, and a
streaming handler never hears that the server is stopping. `BrokerServer` therefore tells the
broker to end every stream and long-poll first, then lets uvicorn shut down as usual.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TextIO, TypeVar

import anyio
import uvicorn

from .app import create_app
from .broker import Broker
from .config import BrokerConfig
from .store.base import Store
from .store.sqlite import SQLiteStore
from .tenants import bootstrap, create_tenant, ensure_admin_key

__all__ = ["BrokerServer", "BrokerThread", "serve", "write_key_file"]

T = TypeVar("T")

log = logging.getLogger("signoff.server")


class BrokerServer(uvicorn.Server):
    """uvicorn's server, ending the broker's streams and long-polls as shutdown begins."""

    def __init__(
        self,
        config: uvicorn.Config,
        broker: Broker,
        *,
        on_listening: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(config)
        self.broker = broker
        self.listening = threading.Event()
        self._on_listening = on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start listening, then say so."""
        await super().startup(sockets=sockets)
        if self.started:
            self.listening.set()
            if self._on_listening is not None:
                self._on_listening()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """End streams first: uvicorn's shutdown waits for open connections to finish."""
        self.broker.begin_shutdown()
        await super().shutdown(sockets=sockets)


def _bind(host: str, port: int) -> socket.socket:
    # Bound here rather than by uvicorn so the port is known at once (port 0) and can be
    # bound again right after a stop (SO_REUSEADDR), as tests restarting the broker need.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _server(config: BrokerConfig, on_listening: Callable[[], None] | None = None) -> BrokerServer:
    app = create_app(config)
    uvicorn_config = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        lifespan="on",
        log_config=None,
        access_log=False,  # the broker logs one line per request itself
        timeout_graceful_shutdown=int(max(1, config.graceful_shutdown_timeout)),
        loop="none",
    )
    return BrokerServer(uvicorn_config, app.state.broker, on_listening=on_listening)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


class BrokerThread:
    """A broker on 127.0.0.1 running on its own event loop in a daemon thread."""

    def __init__(
        self,
        *,
        db_path: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        config: BrokerConfig | None = None,
    ) -> None:
        self._tmpdir: str | None = None
        if db_path is None:
            self._tmpdir = tempfile.mkdtemp(prefix="signoff-broker-")
            db_path = os.path.join(self._tmpdir, "signoff.db")
        self.db_path = os.fspath(db_path)
        self.host = host
        self.port = port
        self._config = (config or BrokerConfig()).replace(db_path=self.db_path, host=host)
        self._server: BrokerServer | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def base_url(self) -> str:
        """The broker's URL, e.g. ``http://127.0.0.1:54321``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def config(self) -> BrokerConfig:
        """The settings the broker runs with."""
        return self._config

    @property
    def broker(self) -> Broker:
        """The running broker's parts (store, hub, ...), for tests."""
        if self._server is None:
            raise RuntimeError("the broker is not running")
        return self._server.broker

    @property
    def store(self) -> Store:
        """The running broker's store (use it through `call`)."""
        return self.broker.store

    def start(self, timeout: float = 10.0) -> None:
        """Start serving; returns once the broker is listening."""
        if self._thread is not None:
            raise RuntimeError("the broker is running already")
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        server = _server(self._config.replace(port=self.port))
        failure: list[BaseException] = []

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            await server.serve(sockets=[sock])

        def run() -> None:
            try:
                with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                    runner.run(main())
            except BaseException as exc:  # SystemExit when the lifespan fails to start
                failure.append(exc)
            finally:
                sock.close()
                server.listening.set()

        thread = threading.Thread(target=run, name=f"signoff-broker-{self.port}", daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        if not server.listening.wait(timeout) or failure or not server.started:
            self.stop()
            raise RuntimeError(f"the broker did not start: {failure[0] if failure else 'timeout'}")

    def stop(self, timeout: float = 10.0) -> None:
        """End streams and long-polls at once, stop serving and close the store; idempotent.

        If the broker's thread has still not ended after ``timeout`` seconds, and again after
        a forced exit, it is left running (logged) with its temporary database in place: a
        later `stop` tries again."""
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout)
            if thread.is_alive():
                server.force_exit = True
                thread.join(timeout)
            if thread.is_alive():
                # Its store is still open: deleting the database under it could lose writes
                # it is making and would leave it failing on a missing file.
                log.warning(
                    "the broker on port %d did not stop within %g s; its database %s is left "
                    "in place",
                    self.port,
                    2 * timeout,
                    self.db_path,
                )
                return
        self._server = self._thread = None
        self._loop = None
        if self._tmpdir is not None and server is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float = 10.0) -> T:
        """Run a coroutine function on the broker's loop and return its result."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the broker is not running")

        async def run() -> T:
            return await fn()

        # Submitted from an empty context: the caller's context (copied by asyncio) may say
        # "trio" to sniffio, and anyio would then pick the wrong backend on this loop.
        submitted = contextvars.Context().run(asyncio.run_coroutine_threadsafe, run(), loop)
        return submitted.result(timeout)

    def create_tenant(self, name: str) -> tuple[str, str]:
        """A new tenant and an admin key for it: (tenant id, key token)."""
        pepper = self._config.key_pepper
        return self.call(lambda: create_tenant(self.store, name, pepper=pepper))

    def bootstrap(self) -> str | None:
        """The default tenant's admin key if this call created the tenant, else None."""
        pepper = self._config.key_pepper
        return self.call(lambda: bootstrap(self.store, pepper=pepper))

    def ensure_admin_key(self, name: str = "embedded") -> str:
        """A new admin key for the default tenant (created if missing)."""
        pepper = self._config.key_pepper
        return self.call(lambda: ensure_admin_key(self.store, name=name, pepper=pepper))

    def __enter__(self) -> BrokerThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def write_key_file(path: str | os.PathLike[str], token: str) -> None:
    """Write a key to a file only its owner can read (mode 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(token + "\n")


def serve(
    config: BrokerConfig,
    *,
    admin_key_file: str | os.PathLike[str] | None = None,
    out: TextIO | None = None,
) -> None:
    """Run the broker in the foreground until SIGINT/SIGTERM (the ``signoff serve`` command).

    On a database without a default tenant it creates one with an admin key and prints the
    key once (and writes it to ``admin_key_file``); on an existing database nothing secret is
    printed.
    """
    out = out or sys.stdout

    async def prepare() -> str | None:
        store = SQLiteStore(config.db_path)
        await store.open()
        try:
            return await bootstrap(store, pepper=config.key_pepper)
        finally:
            await store.close()

    token = anyio.run(prepare)
    if token is not None:
        print("Created the default tenant. Its admin API key (shown this once):", file=out)
        print(f"  {token}", file=out)
        if admin_key_file is not None:
            write_key_file(admin_key_file, token)
            print(f"The key was also written to {os.fspath(admin_key_file)} (mode 0600).", file=out)
    sock = _bind(config.host, config.port)
    port = sock.getsockname()[1]
    host = f"[{config.host}]" if ":" in config.host else config.host

    def announce() -> None:
        # Printed once uvicorn handles signals, so a supervisor may stop us from here on.
        print(
            f"signoff broker listening on http://{host}:{port} (database {config.db_path})",
            file=out,
        )
        out.flush()

    server = _server(config.replace(port=port), on_listening=announce)
    # uvicorn handles SIGINT/SIGTERM while it serves and re-raises the signal once it has
    # shut down gracefully; these no-op handlers make that re-raise a clean exit (status 0).
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda number, frame: None)
    runner_kwargs: dict[str, Any] = {"loop_factory": _loop_factory()}
    with asyncio.Runner(**runner_kwargs) as runner:
        runner.run(server.serve(sockets=[sock]))
