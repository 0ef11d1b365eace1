"""Action runs in SQLite: rows, status changes (each with its ``action.<status>`` event),
finishing executions, following an approval's outcome, reads and recovery scans.

Each function runs inside one transaction (`Tx`) opened by the store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import msgspec

from ...models import ActionRun, Approval, ErrorDetail, RunStatus
from ..ids import new_id, parse_ts
from .base import (
    RUN_RESPONSE_STATUS,
    NotFound,
    PageResult,
    RunFilter,
    RunFinish,
    RunRef,
)
from .sqlite_db import Tx
from .sqlite_rows import dumps, loads, newest_first, opt_ts, ts

__all__ = [
    "run_from_row",
    "insert_run",
    "finish_run",
    "settle_for_approval",
    "get_run",
    "list_runs",
    "list_running",
    "released_approvals",
    "APPROVAL_TO_RUN",
]

#: What a settled approval does to the run waiting on it.
APPROVAL_TO_RUN = {
    "approved": RunStatus.RUNNING,
    "denied": RunStatus.DENIED,
    "expired": RunStatus.CANCELLED,
    "cancelled": RunStatus.CANCELLED,
}
_encoder = msgspec.json.Encoder()


def run_from_row(row: sqlite3.Row) -> ActionRun:
    """The wire model of an action_runs row."""
    error = loads(row["error"])
    return ActionRun(
        id=row["id"],
        connection_id=row["connection_id"],
        action_type=row["action_type"],
        status=RunStatus(row["status"]),
        version=row["version"],
        created_at=parse_ts(row["created_at"]),
        updated_at=parse_ts(row["updated_at"]),
        input=loads(row["input"]),
        metadata=loads(row["metadata"]),
        outcome=row["outcome"],
        policy_id=row["policy_id"],
        approval_id=row["approval_id"],
        result=loads(row["result"]),
        error=None if error is None else msgspec.convert(error, ErrorDetail),
        started_at=opt_ts(row["started_at"]),
        completed_at=opt_ts(row["completed_at"]),
        requested_by=row["requested_by"],
    )


def _event(tx: Tx, tenant_id: str, row: sqlite3.Row, actor: str | None) -> ActionRun:
    """Append the ``action.<status>`` event of a run row just written; return the run."""
    run = run_from_row(row)
    snapshot: dict[str, Any] = msgspec.to_builtins(run)
    tx.append_event(tenant_id, f"action.{run.status}", run.id, actor, snapshot)
    return run


def insert_run(
    tx: Tx,
    tenant_id: str,
    *,
    run_id: str | None = None,
    connection_id: str,
    action_type: str,
    status: RunStatus,
    input: dict[str, Any],
    metadata: dict[str, Any],
    outcome: str,
    policy_id: str | None,
    approval_id: str | None,
    idempotency_key: str | None,
    actor: str,
) -> ActionRun:
    """Insert a run (version 1) and append its event."""
    now = ts(tx.now)
    terminal = status in (RunStatus.DENIED, RunStatus.CANCELLED)
    row = tx.execute(
        "INSERT INTO action_runs (id, tenant_id, connection_id, action_type, status, version,"
        " input, metadata, outcome, policy_id, approval_id, idempotency_key, requested_by,"
        " created_at, updated_at, started_at, completed_at)"
        " VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (
            run_id or new_id("run"),
            tenant_id,
            connection_id,
            action_type,
            str(status),
            dumps(input),
            dumps(metadata),
            outcome,
            policy_id,
            approval_id,
            idempotency_key,
            actor,
            now,
            now,
            now if status == RunStatus.RUNNING else None,
            now if terminal else None,
        ),
    ).fetchone()
    return _event(tx, tenant_id, row, actor)


def finish_run(tx: Tx, finish: RunFinish) -> ActionRun:
    """Record how an execution ended; complete the idempotency key claimed with the run."""
    status = RunStatus.FAILED if finish.error is not None else RunStatus.SUCCEEDED
    now = ts(tx.now)
    row = tx.execute(
        "UPDATE action_runs SET status = ?, version = version + 1, updated_at = ?,"
        " completed_at = ?, result = ?, error = ?"
        " WHERE tenant_id = ? AND id = ? AND status = 'running' RETURNING *",
        (
            str(status),
            now,
            now,
            None if finish.result is None else dumps(finish.result),
            None if finish.error is None else dumps(finish.error),
            finish.tenant_id,
            finish.run_id,
        ),
    ).fetchone()
    if row is None:  # finished already (or never ran): nothing changes
        return get_run(tx, finish.tenant_id, finish.run_id)
    run = _event(tx, finish.tenant_id, row, "system")
    key = row["idempotency_key"]
    if key is not None:
        # Only a key claimed in the run's own transaction (same created_at) and still in
        # progress is this run's: a run released by an approval answered its request long
        # ago, and a key that expired meanwhile may belong to another request by now.
        tx.execute(
            "UPDATE idempotency_keys SET state = 'completed', status_code = ?,"
            " response_body = ? WHERE tenant_id = ? AND key = ? AND state = 'in_progress'"
            " AND created_at = ?",
            (RUN_RESPONSE_STATUS, _encoder.encode(run), finish.tenant_id, key, row["created_at"]),
        )
    return run


def settle_for_approval(tx: Tx, tenant_id: str, approval: Approval, actor: str) -> None:
    """Move the run waiting on ``approval`` (if any) as its outcome says, in the same
    transaction; a run released to ``running`` is queued for execution after commit."""
    status = APPROVAL_TO_RUN.get(str(approval.status))
    if status is None:
        return
    now = ts(tx.now)
    stamp = "started_at" if status == RunStatus.RUNNING else "completed_at"
    row = tx.execute(
        f"UPDATE action_runs SET status = ?, version = version + 1, updated_at = ?, {stamp} = ?"
        " WHERE approval_id = ? AND tenant_id = ? AND status = 'awaiting_approval'"
        " RETURNING *",
        (str(status), now, now, approval.id, tenant_id),
    ).fetchone()
    if row is None:
        return
    run = _event(tx, tenant_id, row, actor)
    if run.status == RunStatus.RUNNING:
        tx.queued.append(RunRef(tenant_id, run.id))


def get_run(tx: Tx, tenant_id: str, run_id: str) -> ActionRun:
    """One run; `NotFound` if unknown."""
    row = tx.execute(
        "SELECT * FROM action_runs WHERE tenant_id = ? AND id = ?", (tenant_id, run_id)
    ).fetchone()
    if row is None:
        raise NotFound(run_id)
    return run_from_row(row)


def list_runs(
    tx: Tx, tenant_id: str, filters: RunFilter, limit: int, cursor: str | None
) -> PageResult[ActionRun]:
    """A page of runs, newest first."""
    return newest_first(
        tx,
        "action_runs",
        tenant_id,
        run_from_row,
        kind="run",
        limit=limit,
        cursor=cursor,
        equal={"connection_id": filters.connection_id, "action_type": filters.action_type},
        any_of={"status": filters.statuses, "id": filters.ids},
    )


def list_running(tx: Tx, after: int, limit: int) -> list[tuple[int, RunRef]]:
    """Runs left running (every tenant) past a position, in creation order."""
    rows = tx.execute(
        "SELECT pos, tenant_id, id FROM action_runs WHERE status = 'running' AND pos > ?"
        " ORDER BY pos LIMIT ?",
        (after, limit),
    )
    return [(row["pos"], RunRef(row["tenant_id"], row["id"])) for row in rows]


def released_approvals(tx: Tx, limit: int) -> Sequence[sqlite3.Row]:
    """Settled approvals whose run still awaits them (every tenant)."""
    return tx.execute(
        "SELECT a.* FROM action_runs AS r JOIN approvals AS a ON a.id = r.approval_id"
        " WHERE r.status = 'awaiting_approval' AND a.status != 'pending'"
        " ORDER BY r.pos LIMIT ?",
        (limit,),
    ).fetchall()
