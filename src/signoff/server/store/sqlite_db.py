"""SQLite plumbing: the connections, units of work (group-committed writes, snapshot reads),
and what every transaction can do (append an event to the hash chain, claim an idempotency
key). Column values and cursors are in ``sqlite_rows``, the schema's migrations in
``sqlite_migrate``.

Every transaction is one synchronous function run in one worker-thread hop, serialized by a
``CapacityLimiter(1)``: the connection is never used by two threads at once, and a write
never waits on the event loop halfway through.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from ..._chain import canonical_json, entry_hash
from ..ids import new_id, parse_ts, utcnow
from .base import IdempotencyClaim, IdempotencyHit, IdempotencyRecord, RunRef
from .sqlite_migrate import migrate
from .sqlite_rows import ts

__all__ = ["Database", "Tx"]

T = TypeVar("T")

log = logging.getLogger("signoff.server")


class Tx:
    """One open transaction: the connection, its clock reading, and what it appended."""

    def __init__(self, conn: sqlite3.Connection, now: datetime, idempotency_ttl: float) -> None:
        self.conn = conn
        self.now = now
        self.idempotency_ttl = idempotency_ttl
        #: tenant id -> last seq appended, to wake that tenant's waiters after commit.
        self.appended: dict[str, int] = {}
        #: Runs this transaction released for background execution (handed over after commit).
        self.queued: list[RunRef] = []

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        """Run one statement."""
        return self.conn.execute(sql, params)

    def append_event(
        self, tenant_id: str, type: str, subject_id: str, actor: str | None, data: dict[str, Any]
    ) -> int:
        """Append an event to the tenant's log, next in seq and linked into the hash chain."""
        head = self.execute(
            "SELECT last_seq, last_hash FROM tenants WHERE id = ?", (tenant_id,)
        ).fetchone()
        seq = int(head[0]) + 1
        prev_hash = bytes(head[1])
        event_id = new_id("evt")
        digest = entry_hash(
            prev_hash,
            tenant_id=tenant_id,
            seq=seq,
            id=event_id,
            type=type,
            subject_id=subject_id,
            actor=actor,
            created_at=self.now,
            data=data,
        )
        self.execute(
            "INSERT INTO events (tenant_id, seq, id, type, subject_id, actor, created_at, data,"
            " prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                tenant_id,
                seq,
                event_id,
                type,
                subject_id,
                actor,
                ts(self.now),
                canonical_json(data).decode(),
                prev_hash,
                digest,
            ),
        )
        self.execute(
            "UPDATE tenants SET last_seq = ?, last_hash = ? WHERE id = ?", (seq, digest, tenant_id)
        )
        self.appended[tenant_id] = seq
        return seq

    def claim(self, tenant_id: str, claim: IdempotencyClaim[Any] | None) -> None:
        """Claim an idempotency key in this transaction; `IdempotencyHit` if it was claimed."""
        if claim is None:
            return
        # A key past its 24 h that the sweeper has not reached yet is free again.
        self.execute(
            "DELETE FROM idempotency_keys WHERE tenant_id = ? AND key = ? AND expires_at <= ?",
            (tenant_id, claim.key, ts(self.now)),
        )
        claimed = self.execute(
            "INSERT INTO idempotency_keys (tenant_id, key, api_key_id, method, path, fingerprint,"
            " state, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, 'in_progress', ?, ?)"
            " ON CONFLICT (tenant_id, key) DO NOTHING RETURNING key",
            (
                tenant_id,
                claim.key,
                claim.api_key_id,
                claim.method,
                claim.path,
                claim.fingerprint,
                ts(self.now),
                ts(self.now + timedelta(seconds=self.idempotency_ttl)),
            ),
        ).fetchone()
        if claimed is None:
            record = self.idempotency_record(tenant_id, claim.key)
            assert record is not None
            raise IdempotencyHit(record)

    def complete(self, tenant_id: str, claim: IdempotencyClaim[T] | None, result: T) -> None:
        """Store the response of a claimed key, so a retry replays it."""
        if claim is None:
            return
        status, body = claim.respond(result)
        self.execute(
            "UPDATE idempotency_keys SET state = 'completed', status_code = ?, response_body = ?"
            " WHERE tenant_id = ? AND key = ?",
            (status, body, tenant_id, claim.key),
        )

    def idempotency_record(self, tenant_id: str, key: str) -> IdempotencyRecord | None:
        """A claimed key, if any."""
        row = self.execute(
            "SELECT * FROM idempotency_keys WHERE tenant_id = ? AND key = ?", (tenant_id, key)
        ).fetchone()
        if row is None:
            return None
        return IdempotencyRecord(
            key=row["key"],
            fingerprint=row["fingerprint"],
            method=row["method"],
            path=row["path"],
            state=row["state"],
            status_code=row["status_code"],
            response_body=None if row["response_body"] is None else bytes(row["response_body"]),
            created_at=parse_ts(row["created_at"]),
            expires_at=parse_ts(row["expires_at"]),
        )


class _Write:
    """One unit of work waiting for, or taken into, a group commit."""

    __slots__ = ("done", "error", "fn", "result", "started", "tx")

    def __init__(self, fn: Callable[[Tx], Any]) -> None:
        self.fn = fn
        self.done = anyio.Event()
        self.started = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.tx: Tx | None = None


class Database:
    """The SQLite file and the two ways to use it: `write` and `read`.

    Writes go through one writer connection, one transaction per thread hop. Writes that
    arrive while another is committing are committed together (a group commit: each in its
    own savepoint, so one failing unit rolls back alone), which spreads the cost of the
    fsync that ``synchronous=FULL`` pays per commit. Reads use a second connection, so they
    never queue behind writes; WAL lets them read the last committed state meanwhile.
    """

    #: At most this many units of work share one commit.
    max_group = 64

    def __init__(
        self,
        path: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        idempotency_ttl: float = 86_400.0,
        on_commit: Callable[[str, int], None] | None = None,
    ) -> None:
        self.path = path
        self.clock = clock
        self.idempotency_ttl = idempotency_ttl
        self.on_commit = on_commit
        self.on_queued: Callable[[RunRef], None] | None = None
        self._conn: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._pending: list[_Write] = []
        # Made in `open`, on the event loop that will use them: anyio objects belong to the
        # backend they were created under, and the store may be built in another thread.
        self._limiter: anyio.CapacityLimiter | None = None
        self._read_limiter: anyio.CapacityLimiter | None = None
        self._write_lock: anyio.Lock | None = None
        self.commits = 0  # write transactions committed (for tests and benchmarks)

    async def open(self) -> None:
        """Connect, set the pragmas and apply pending migrations."""
        if self._conn is None:
            self._limiter = anyio.CapacityLimiter(1)
            self._read_limiter = anyio.CapacityLimiter(1)
            self._write_lock = anyio.Lock()
            self._conn = await anyio.to_thread.run_sync(self._connect, limiter=self._limiter)
            if self.path == ":memory:":  # one private database: readers must share it
                self._reader, self._read_limiter = self._conn, self._limiter
            else:
                self._reader = await anyio.to_thread.run_sync(
                    self._connect_reader, limiter=self._read_limiter
                )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        try:
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect_reader(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA query_only = ON")
        return conn

    async def close(self) -> None:
        """Close the connections; idempotent."""
        conn, self._conn = self._conn, None
        reader, self._reader = self._reader, None
        if reader is not None and reader is not conn:
            await anyio.to_thread.run_sync(reader.close, limiter=self._read_limiter)
        if conn is not None:
            await anyio.to_thread.run_sync(conn.close, limiter=self._limiter)
        self._limiter = self._read_limiter = None
        self._write_lock = None

    async def read(self, fn: Callable[[Tx], T]) -> T:
        """Run ``fn`` in one read transaction (a consistent snapshot)."""
        conn, limiter = self._reader, self._read_limiter
        if conn is None or limiter is None:
            raise RuntimeError("the store is not open")

        def run() -> T:
            tx = Tx(conn, self.clock(), self.idempotency_ttl)
            conn.execute("BEGIN")
            try:
                return fn(tx)
            finally:
                conn.execute("COMMIT")

        return await anyio.to_thread.run_sync(run, limiter=limiter)

    async def write(self, fn: Callable[[Tx], T]) -> T:
        """Run ``fn`` in a write transaction; its changes commit if it returns and roll back
        if it raises (another unit's failure in the same group commit never affects it).

        Once a unit of work has been taken into a commit, its caller's cancellation waits
        for that commit: it must not hide that the write happened (waiters must be woken).
        """
        lock = self._write_lock
        if lock is None:
            raise RuntimeError("the store is not open")
        unit = _Write(fn)
        self._pending.append(unit)
        try:
            while not unit.done.is_set():
                async with lock:
                    if not unit.done.is_set():
                        await self._commit_group()
        except BaseException:
            if unit.started:  # being committed: let it finish, then let the error through
                with anyio.CancelScope(shield=True):
                    await unit.done.wait()
            else:
                self._pending.remove(unit)
            raise
        if unit.error is not None:
            raise unit.error
        result: T = unit.result
        return result

    async def _commit_group(self) -> None:
        """Commit every pending unit of work (up to `max_group`) in one transaction."""
        group, self._pending = self._pending[: self.max_group], self._pending[self.max_group :]
        for unit in group:
            unit.started = True
        conn, limiter = self._conn, self._limiter
        assert conn is not None
        assert limiter is not None
        with anyio.CancelScope(shield=True):
            try:
                await anyio.to_thread.run_sync(self._run_group, conn, group, limiter=limiter)
            except BaseException as exc:
                # Nothing of the group was written. Every unit gets this error, also those
                # that failed on their own: their failure may have come from an earlier
                # unit's write that is now undone (say, an idempotency key it claimed).
                for unit in group:
                    unit.error, unit.tx = exc, None
            for unit in group:
                try:
                    if unit.error is None and unit.tx is not None:
                        self._committed(unit.tx)
                except Exception:
                    # A subscriber failed; the write is committed all the same, and its
                    # caller must hear so.
                    log.exception("after-commit hook failed")
                finally:
                    unit.done.set()

    def _run_group(self, conn: sqlite3.Connection, group: list[_Write]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for unit in group:
                tx = Tx(conn, self.clock(), self.idempotency_ttl)
                conn.execute("SAVEPOINT unit")
                try:
                    unit.result = unit.fn(tx)
                except BaseException as exc:
                    conn.execute("ROLLBACK TO unit")
                    unit.error = exc
                else:
                    unit.tx = tx
                conn.execute("RELEASE unit")
            conn.execute("COMMIT")
        except BaseException:
            # A failed COMMIT (disk full, I/O error) may leave the transaction open; the
            # writer connection must come back usable either way.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.commits += 1

    def _committed(self, tx: Tx) -> None:
        if self.on_commit is not None:
            for tenant_id, seq in tx.appended.items():
                self.on_commit(tenant_id, seq)
        if self.on_queued is not None:
            for ref in tx.queued:
                self.on_queued(ref)
