-- Governed actions: connections (a connector bound to its config and secrets) and the runs
-- made through them. Timestamps are UTC text with fixed precision, as in 0001.

CREATE TABLE connections (
    pos         INTEGER PRIMARY KEY,        -- creation order, for pages
    id          TEXT NOT NULL UNIQUE,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    name        TEXT NOT NULL,
    connector   TEXT NOT NULL,
    config      TEXT NOT NULL,              -- JSON object
    -- JSON object of name -> value. Never returned, logged or put in an event; stored in
    -- plain text (encryption at rest is future work), so the file must be guarded.
    secrets     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    deleted_at  TEXT
);
CREATE INDEX connections_tenant ON connections (tenant_id, pos) WHERE deleted_at IS NULL;
-- A name is unique among a tenant's live connections; a deleted one frees its name.
CREATE UNIQUE INDEX connections_name ON connections (tenant_id, name) WHERE deleted_at IS NULL;

CREATE TABLE action_runs (
    pos              INTEGER PRIMARY KEY,   -- creation order, for newest-first pages
    id               TEXT NOT NULL UNIQUE,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    connection_id    TEXT NOT NULL,
    action_type      TEXT NOT NULL,
    status           TEXT NOT NULL,
    version          INTEGER NOT NULL,
    input            TEXT NOT NULL,         -- JSON object
    metadata         TEXT NOT NULL,         -- JSON object
    outcome          TEXT,                  -- the policy effect
    policy_id        TEXT,
    approval_id      TEXT,
    result           TEXT,                  -- JSON
    error            TEXT,                  -- JSON {type, message, details}
    idempotency_key  TEXT,                  -- the key claimed with the run, if any
    requested_by     TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    started_at       TEXT,
    completed_at     TEXT
);
CREATE INDEX action_runs_tenant ON action_runs (tenant_id, pos);
CREATE INDEX action_runs_tenant_status ON action_runs (tenant_id, status, pos);
CREATE INDEX action_runs_tenant_connection ON action_runs (tenant_id, connection_id, pos);
CREATE INDEX action_runs_tenant_type ON action_runs (tenant_id, action_type, pos);
-- An approval releases at most one run; settling the approval finds it by this.
CREATE UNIQUE INDEX action_runs_approval ON action_runs (approval_id)
    WHERE approval_id IS NOT NULL;
-- Recovery at startup: runs a crash left running, and runs still waiting on an approval.
CREATE INDEX action_runs_unsettled ON action_runs (status, pos)
    WHERE status IN ('running', 'awaiting_approval');

-- The evidence of a run: every event about it or its approval.
CREATE INDEX events_subject ON events (tenant_id, subject_id, seq);
