"""A real broker in its own process, for the broker benchmarks, plus a control channel.

Run as a script, this is ``signoff serve`` with the request log off: the same bootstrap
(default tenant and admin key), the same ``uvicorn`` server built by
``signoff.server.runner._server`` on uvloop, on 127.0.0.1 and a free port, over a SQLite file
in a temporary folder. ``signoff serve`` has no flag for ``BrokerConfig.log_requests`` (it logs
one INFO line per request to stderr); ``--request-log`` turns that log on here too, to measure
what it costs.

The control channel (JSON lines on stdin, answers on stdout) lets a benchmark do in bulk,
inside the broker process and on its event loop, what would take minutes over HTTP:

- ``{"op": "create", "n": N}``: N pending approvals, created by the store function the
  ``POST /v1/approvals`` route uses, in transactions of up to ``chunk`` approvals;
- ``{"op": "decide", "ids": [...], "per_tx": K}``: approve them, K decisions per
  transaction, by the function ``POST /v1/approvals/{id}/decision`` uses. Every commit goes
  through the store's commit hook, which wakes the event streams as an HTTP decision does;
- ``{"op": "commits"}``: the ``time.perf_counter()`` of each commit since the last call
  (CLOCK_MONOTONIC, which every process on the host shares), and of each time an event
  stream's feed read new frames (just before they are sent).

The broker stops when stdin closes, after ``--lifetime`` seconds, or when its parent dies.

    python benchmarks/_broker.py --db /tmp/x/signoff.db [--lifetime 600] [--request-log]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
CONTROL_TIMEOUT = 120.0  # seconds one control command may take
START_TIMEOUT = 30.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- the parent's side -----------------------------------------------------------------------


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGTERM this process when the process that started it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def check_shared_clock() -> None:
    """Cross-process timings compare ``perf_counter`` values: both must be CLOCK_MONOTONIC."""
    implementation = time.get_clock_info("perf_counter").implementation
    if "CLOCK_MONOTONIC" not in implementation:
        raise SystemExit(f"perf_counter is {implementation}, not CLOCK_MONOTONIC; cannot compare")


class BrokerProcess:
    """Starts ``_broker.py`` in a subprocess; `call` sends control commands."""

    def __init__(self, *, request_log: bool = False, lifetime: float = 600.0) -> None:
        self._folder = tempfile.mkdtemp(prefix="signoff-bench-")
        self.db_path = os.path.join(self._folder, "signoff.db")
        command = [sys.executable, str(HERE / "_broker.py"), "--db", self.db_path]
        command += ["--lifetime", str(lifetime)]
        if request_log:
            command.append("--request-log")
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if request_log else None,
            text=True,
            preexec_fn=_die_with_parent,  # start it before any thread
        )
        self._lock = threading.Lock()
        try:
            hello = self._read(START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        self.url: str = hello["url"]
        self.port: int = hello["port"]
        self.admin_key: str = hello["admin_key"]
        self.tenant_id: str = hello["tenant_id"]
        self.pid: int = self._process.pid

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self._process.stdout is not None
        result: list[str] = []
        reader = threading.Thread(
            target=lambda: result.append(self._process.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(timeout)
        if not result or not result[0]:
            code = self._process.poll()
            if code is not None:
                raise RuntimeError(f"the broker exited with status {code} (see its stderr)")
            raise RuntimeError(f"the broker did not answer within {timeout:.0f}s")
        answer: dict[str, Any] = json.loads(result[0])
        if "error" in answer:
            raise RuntimeError(f"broker control command failed: {answer['error']}")
        return answer

    def call(self, op: str, **arguments: Any) -> dict[str, Any]:
        """Run one control command in the broker process (blocking; use a thread from async)."""
        assert self._process.stdin is not None
        with self._lock:
            self._process.stdin.write(json.dumps({"op": op, **arguments}) + "\n")
            self._process.stdin.flush()
            return self._read(CONTROL_TIMEOUT)

    def cpu_seconds(self) -> float:
        """User + system CPU the broker process has used (10 ms ticks), all threads."""
        return _stat_cpu(f"/proc/{self.pid}/stat")

    def thread_cpu(self) -> dict[str, float]:
        """CPU seconds by thread name (threads of the same name summed)."""
        totals: dict[str, float] = {}
        for task in os.listdir(f"/proc/{self.pid}/task"):
            try:
                name = Path(f"/proc/{self.pid}/task/{task}/comm").read_text().strip()
                seconds = _stat_cpu(f"/proc/{self.pid}/task/{task}/stat")
            except OSError:
                continue  # the thread ended meanwhile
            label = "event loop" if task == str(self.pid) else name
            totals[label] = totals.get(label, 0.0) + seconds
        return totals

    def stop(self) -> None:
        """Close the control channel (the broker shuts down), then make sure it is gone."""
        process = self._process
        if process.poll() is None:
            with contextlib.suppress(OSError):
                if process.stdin is not None:
                    process.stdin.close()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> BrokerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _stat_cpu(path: str) -> float:
    text = Path(path).read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def established_to(port: int, pid: int | str = "self", *, local: bool = False) -> int:
    """TCP connections of process ``pid`` in state ESTABLISHED whose remote (or, with
    ``local``, local) port is ``port``: the process's socket inodes matched in /proc/net/tcp."""
    inodes = set()
    folder = f"/proc/{pid}/fd"
    for fd in os.listdir(folder):
        with contextlib.suppress(OSError):
            target = os.readlink(f"{folder}/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as handle:
            next(handle)
            for line in handle:
                fields = line.split()
                address = fields[1] if local else fields[2]
                if fields[3] == "01" and int(address.rsplit(":", 1)[1], 16) == port:
                    count += fields[9] in inodes
    return count


# -- the broker's side -----------------------------------------------------------------------


def serve(db_path: str, lifetime: float, request_log: bool) -> None:
    import logging

    import anyio

    from signoff.models import ApprovalCreate
    from signoff.server.config import BrokerConfig
    from signoff.server.routes import events as events_routes
    from signoff.server.runner import _bind, _loop_factory, _server
    from signoff.server.store import sqlite_approvals
    from signoff.server.store.sqlite import SQLiteStore
    from signoff.server.tenants import DEFAULT_TENANT, bootstrap

    if request_log:  # as `signoff serve` sets it up
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    config = BrokerConfig(db_path=db_path, host="127.0.0.1", port=0, log_requests=request_log)

    async def prepare() -> tuple[str, str]:
        store = SQLiteStore(config.db_path)
        await store.open()
        try:
            token = await bootstrap(store, pepper=config.key_pepper)
            tenant = await store.get_tenant_by_name(DEFAULT_TENANT)
        finally:
            await store.close()
        assert token is not None, "the database was not empty"
        assert tenant is not None
        return token, tenant.id

    token, tenant_id = anyio.run(prepare)
    sock = _bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    out_lock = threading.Lock()

    def say(message: dict[str, Any]) -> None:
        with out_lock:
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()

    def announce() -> None:
        url = f"http://127.0.0.1:{port}"
        say({"url": url, "port": port, "admin_key": token, "tenant_id": tenant_id})

    server = _server(config.replace(port=port), on_listening=announce)
    commits: list[float] = []

    db = server.broker.store._db  # type: ignore[attr-defined]
    notify = db.on_commit

    def on_commit(tenant: str, seq: int) -> None:
        commits.append(time.perf_counter())
        if notify is not None:
            notify(tenant, seq)

    db.on_commit = on_commit
    frames_read: list[float] = []
    feed_read = events_routes._LogFeed.read

    async def timed_read(feed: Any) -> tuple[list[bytes], bool]:
        frames, finished = await feed_read(feed)
        if frames:
            frames_read.append(time.perf_counter())
        return frames, finished

    events_routes._LogFeed.read = timed_read  # type: ignore[method-assign,assignment]

    async def handle(command: dict[str, Any]) -> dict[str, Any]:
        op = command["op"]
        if op == "commits":
            taken, read = commits[:], frames_read[:]
            del commits[:], frames_read[:]
            return {"commits": taken, "frames_read": read}
        if op == "create":
            spec = ApprovalCreate(
                action=command.get("action", "bench.wait"),
                summary="benchmark approval",
                arguments={"n": 1},
            )
            ids: list[str] = []
            remaining, chunk = int(command["n"]), int(command.get("chunk", 2000))
            started = time.perf_counter()
            while remaining:
                size = min(chunk, remaining)
                remaining -= size
                made = await db.write(
                    lambda tx, size=size: [
                        sqlite_approvals.create_approval(
                            tx, tenant_id, spec, "key_bench", 86_400, None
                        ).approval.id
                        for _ in range(size)
                    ]
                )
                ids.extend(made)
            return {"ids": ids, "seconds": time.perf_counter() - started}
        if op == "decide":
            ids = list(command["ids"])
            per_tx = int(command.get("per_tx", len(ids))) or len(ids)
            del commits[:]
            started = time.perf_counter()
            for at in range(0, len(ids), per_tx):
                batch = ids[at : at + per_tx]
                await db.write(
                    lambda tx, batch=batch: [
                        sqlite_approvals.set_outcome(
                            tx, tenant_id, approval_id, "approved", None, "key_bench", None
                        )
                        for approval_id in batch
                    ]
                )
            taken = commits[:]
            return {"started": started, "commits": taken, "ended": time.perf_counter()}
        raise ValueError(f"unknown op {op!r}")

    def control(loop: asyncio.AbstractEventLoop) -> None:
        for line in sys.stdin:
            try:
                command = json.loads(line)
                future = asyncio.run_coroutine_threadsafe(handle(command), loop)
                say(future.result(CONTROL_TIMEOUT))
            except Exception as exc:
                say({"error": repr(exc)})
        loop.call_soon_threadsafe(setattr, server, "should_exit", True)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        threading.Thread(target=control, args=(loop,), daemon=True).start()
        loop.call_later(lifetime, setattr, server, "should_exit", True)
        await server.serve(sockets=[sock])

    signal.signal(signal.SIGTERM, lambda number, frame: setattr(server, "should_exit", True))
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(main())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--lifetime", type=float, default=600.0)
    parser.add_argument("--request-log", action="store_true")
    args = parser.parse_args()
    serve(args.db, args.lifetime, args.request_log)
