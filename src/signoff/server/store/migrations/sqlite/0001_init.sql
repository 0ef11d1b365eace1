-- The first schema: tenants, API keys, policies, approvals, the event log (with its hash
-- chain) and idempotency keys. Timestamps are UTC text with fixed precision
-- (YYYY-MM-DDTHH:MM:SS.ffffffZ), so text order is time order.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    -- head of the event log: the next event gets last_seq + 1 and links to last_hash
    last_seq    INTEGER NOT NULL DEFAULT 0,
    last_hash   BLOB NOT NULL
);

CREATE TABLE api_keys (
    pos           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    name          TEXT NOT NULL,
    scopes        TEXT NOT NULL,            -- JSON array
    secret_hash   TEXT NOT NULL,            -- SHA-256 or HMAC-SHA256 (hex); never the secret
    prefix        TEXT NOT NULL,
    created_by    TEXT,
    created_at    TEXT NOT NULL,
    expires_at    TEXT,
    revoked_at    TEXT,
    last_used_at  TEXT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, pos);

CREATE TABLE policies (
    pos             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    name            TEXT,
    action          TEXT NOT NULL,
    effect          TEXT NOT NULL,
    priority        INTEGER NOT NULL,
    metadata        TEXT NOT NULL,          -- JSON object of exact-match conditions
    approver_group  TEXT,
    expires_in      INTEGER,
    created_at      TEXT NOT NULL
);
CREATE INDEX policies_order ON policies (tenant_id, priority DESC, pos);

CREATE TABLE approvals (
    pos             INTEGER PRIMARY KEY,    -- creation order, for newest-first pages
    id              TEXT NOT NULL UNIQUE,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    status          TEXT NOT NULL,
    action          TEXT NOT NULL,
    version         INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    summary         TEXT,
    reason          TEXT,
    function_name   TEXT,
    arguments       TEXT,                   -- JSON
    context         TEXT,                   -- JSON
    metadata        TEXT NOT NULL,          -- JSON
    expires_at      TEXT,
    callback_url    TEXT,
    dedup_key       TEXT,
    approver_group  TEXT,
    policy_id       TEXT,
    requested_by    TEXT,
    decided_by      TEXT,
    decided_at      TEXT,
    comment         TEXT
);
CREATE INDEX approvals_tenant ON approvals (tenant_id, pos);
CREATE INDEX approvals_tenant_status ON approvals (tenant_id, status, pos);
CREATE INDEX approvals_due ON approvals (expires_at) WHERE status = 'pending';
CREATE UNIQUE INDEX approvals_dedup ON approvals (tenant_id, dedup_key)
    WHERE status = 'pending' AND dedup_key IS NOT NULL;

-- One append-only log per tenant: the event stream, the webhook source and the audit chain.
CREATE TABLE events (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    seq         INTEGER NOT NULL,
    id          TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    subject_id  TEXT NOT NULL,
    actor       TEXT,
    created_at  TEXT NOT NULL,
    data        TEXT NOT NULL,              -- canonical JSON snapshot of the subject
    prev_hash   BLOB NOT NULL,
    hash        BLOB NOT NULL,
    PRIMARY KEY (tenant_id, seq)
) WITHOUT ROWID;

CREATE TABLE idempotency_keys (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    key            TEXT NOT NULL,
    api_key_id     TEXT NOT NULL,
    method         TEXT NOT NULL,
    path           TEXT NOT NULL,
    fingerprint    TEXT NOT NULL,
    state          TEXT NOT NULL,           -- in_progress | completed
    status_code    INTEGER,
    response_body  BLOB,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
