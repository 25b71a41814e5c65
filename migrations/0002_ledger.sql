-- The ledger, its rollups, period locks, API keys and the audit chain.
CREATE TABLE events (
    id             TEXT PRIMARY KEY,          -- evt_<ULID>, assigned by LedgerWriter in commit order
    metric         TEXT NOT NULL REFERENCES metrics(code),
    occurred_on    TEXT NOT NULL,             -- yyyy-MM-dd
    quantity       INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 1000000000),
    org_unit       TEXT NOT NULL REFERENCES org_units(code),
    campaign       TEXT NULL REFERENCES campaigns(code),
    dimensions     TEXT NOT NULL DEFAULT '{}', -- canonical JSON object, keys sorted
    external_id    TEXT NULL,
    note           TEXT NULL,
    source         TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,             -- UTC instant, fixed-width so text order is time order
    voided_at      TEXT NULL,
    void_reason    TEXT NULL,
    supersedes     TEXT NULL REFERENCES events(id),
    superseded_by  TEXT NULL REFERENCES events(id)
);
-- Idempotency: one head event per (source, externalId); superseded events step aside.
CREATE UNIQUE INDEX ux_events_source_external_head
    ON events(source, external_id) WHERE external_id IS NOT NULL AND superseded_by IS NULL;
CREATE INDEX ix_events_metric_day ON events(metric, occurred_on);
CREATE INDEX ix_events_org_unit ON events(org_unit, occurred_on);
CREATE INDEX ix_events_recorded_at ON events(recorded_at);

-- Sums of active events per day and combination; kept by LedgerWriter in the same transaction.
CREATE TABLE daily_rollups (
    metric      TEXT NOT NULL,
    day         TEXT NOT NULL,
    org_unit    TEXT NOT NULL,
    campaign    TEXT NOT NULL DEFAULT '',  -- '' for no campaign, so the key stays a plain primary key
    dimensions  TEXT NOT NULL DEFAULT '{}',
    value       INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    PRIMARY KEY (metric, day, org_unit, campaign, dimensions)
) WITHOUT ROWID;

CREATE TABLE periods (
    year         INTEGER PRIMARY KEY,
    locked       INTEGER NOT NULL DEFAULT 0,
    locked_at    TEXT NULL,
    lock_reason  TEXT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    source        TEXT NOT NULL,
    scopes        TEXT NOT NULL,             -- space-separated
    org_unit      TEXT NULL REFERENCES org_units(code),
    key_hash      BLOB NOT NULL UNIQUE,      -- SHA-256 of the secret; the secret itself is never stored
    created_at    TEXT NOT NULL,
    last_used_at  TEXT NULL,
    revoked_at    TEXT NULL
);

CREATE TABLE audit_log (
    seq           INTEGER PRIMARY KEY,
    at            TEXT NOT NULL,
    actor_key_id  TEXT NULL,
    actor_name    TEXT NULL,
    action        TEXT NOT NULL,
    entity        TEXT NOT NULL,
    data          TEXT NOT NULL,             -- canonical JSON
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL
);
CREATE INDEX ix_audit_log_action ON audit_log(action, seq);
CREATE INDEX ix_audit_log_entity ON audit_log(entity, seq);
