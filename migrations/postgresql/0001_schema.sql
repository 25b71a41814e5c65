-- Tally on PostgreSQL: the same tables, columns and meaning as SQLite's migrations 0001-0110 leave (migrations/*.sql
-- beside this folder; Api.Tests/Data/PostgresSchemaTests.cs compares the two column by column). A new database starts
-- here; there is no older PostgreSQL form to upgrade.
--
-- Text that is compared or ordered as text (ids, codes, days yyyy-MM-dd, instants in their fixed-width storage form)
-- must order by code point, as SQLite orders it, whatever the server's locale: `ctext` is text with the "C" collation.
-- Integers are bigint (SQLite's INTEGER holds 64 bits); BLOB is bytea. SQLite's WITHOUT ROWID tables are plain tables
-- with the same primary key.
CREATE DOMAIN ctext AS text COLLATE "C";

CREATE TABLE org_units (
    code        ctext PRIMARY KEY,
    name        ctext NOT NULL,
    parent      ctext NULL REFERENCES org_units(code),
    position    bigint NOT NULL UNIQUE,
    created_at  ctext NOT NULL,
    updated_at  ctext NOT NULL,
    short_name  ctext NULL
);

CREATE TABLE org_unit_closure (
    ancestor    ctext NOT NULL REFERENCES org_units(code),
    descendant  ctext NOT NULL REFERENCES org_units(code),
    depth       bigint NOT NULL,
    PRIMARY KEY (ancestor, descendant)
);
CREATE INDEX ix_org_unit_closure_descendant ON org_unit_closure(descendant, ancestor);

CREATE TABLE metrics (
    code             ctext PRIMARY KEY,
    position         bigint NOT NULL UNIQUE,
    name             ctext NOT NULL,
    name_en          ctext NULL,
    unit             ctext NOT NULL,
    description      ctext NULL,
    dimensions       ctext NOT NULL DEFAULT '[]',
    report_template  ctext NULL,
    approximate      bigint NOT NULL DEFAULT 0,
    active           bigint NOT NULL DEFAULT 1,
    created_at       ctext NOT NULL,
    updated_at       ctext NOT NULL
);

CREATE TABLE campaigns (
    code        ctext PRIMARY KEY,
    name        ctext NOT NULL,
    starts_on   ctext NOT NULL,
    ends_on     ctext NOT NULL,
    position    bigint NOT NULL UNIQUE,
    created_at  ctext NOT NULL,
    updated_at  ctext NOT NULL
);

CREATE TABLE daily_rollups (
    metric      ctext NOT NULL,
    day         ctext NOT NULL,
    org_unit    ctext NOT NULL,
    campaign    ctext NOT NULL DEFAULT '',
    dimensions  ctext NOT NULL DEFAULT '{}',
    value       bigint NOT NULL,
    events      bigint NOT NULL,
    PRIMARY KEY (metric, day, org_unit, campaign, dimensions)
);

CREATE TABLE monthly_rollups (
    metric      ctext NOT NULL,
    month       ctext NOT NULL,
    org_unit    ctext NOT NULL,
    campaign    ctext NOT NULL DEFAULT '',
    dimensions  ctext NOT NULL DEFAULT '{}',
    value       bigint NOT NULL,
    events      bigint NOT NULL,
    PRIMARY KEY (metric, month, org_unit, campaign, dimensions)
);

CREATE TABLE monthly_unit_rollups (
    metric      ctext NOT NULL,
    month       ctext NOT NULL,
    org_unit    ctext NOT NULL,
    value       bigint NOT NULL,
    events      bigint NOT NULL,
    PRIMARY KEY (metric, month, org_unit)
);

CREATE TABLE periods (
    year         bigint PRIMARY KEY,
    locked       bigint NOT NULL DEFAULT 0,
    locked_at    ctext NULL,
    lock_reason  ctext NULL,
    updated_at   ctext NOT NULL
);

CREATE TABLE api_keys (
    id            ctext PRIMARY KEY,
    name          ctext NOT NULL,
    source        ctext NOT NULL,
    scopes        ctext NOT NULL,
    org_unit      ctext NULL REFERENCES org_units(code),
    key_hash      bytea NOT NULL UNIQUE,
    created_at    ctext NOT NULL,
    last_used_at  ctext NULL,
    revoked_at    ctext NULL
);

CREATE TABLE audit_log (
    seq           bigint PRIMARY KEY,
    at            ctext NOT NULL,
    actor_key_id  ctext NULL,
    actor_name    ctext NULL,
    action        ctext NOT NULL,
    entity        ctext NOT NULL,
    data          ctext NOT NULL,
    prev_hash     ctext NOT NULL,
    hash          ctext NOT NULL
);
CREATE INDEX ix_audit_log_action ON audit_log(action, seq);
CREATE INDEX ix_audit_log_entity ON audit_log(entity, seq);
CREATE INDEX ix_audit_log_at ON audit_log(at, seq);

CREATE TABLE audit_chunks (
    seq             bigint NOT NULL,
    first_event_id  ctext NOT NULL,
    chunk           bigint NOT NULL,
    hash            bytea NOT NULL,
    PRIMARY KEY (seq, first_event_id)
);

CREATE TABLE imports (
    id          ctext PRIMARY KEY,
    name        ctext,
    key_id      ctext NOT NULL,
    format      ctext NOT NULL,
    status      ctext NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    dry_run     bigint NOT NULL,
    mode        ctext NOT NULL CHECK (mode IN ('create', 'upsert')),
    rows        bigint NOT NULL DEFAULT 0,
    processed   bigint NOT NULL DEFAULT 0,
    created     bigint NOT NULL DEFAULT 0,
    unchanged   bigint NOT NULL DEFAULT 0,
    superseded  bigint NOT NULL DEFAULT 0,
    invalid     bigint NOT NULL DEFAULT 0,
    conflicts   bigint NOT NULL DEFAULT 0,
    errors      ctext NOT NULL DEFAULT '[]',
    detail      ctext,
    created_at  ctext NOT NULL,
    finished_at ctext
);
CREATE INDEX ix_imports_key ON imports(key_id);

CREATE TABLE health_probe (
    id      bigint PRIMARY KEY,
    filler  bytea NOT NULL
);

CREATE TABLE metric_history (
    code             ctext NOT NULL,
    valid_from       ctext NOT NULL,
    position         bigint NOT NULL,
    name             ctext NOT NULL,
    name_en          ctext NULL,
    unit             ctext NOT NULL,
    description      ctext NULL,
    dimensions       ctext NOT NULL,
    report_template  ctext NULL,
    approximate      bigint NOT NULL,
    active           bigint NOT NULL,
    PRIMARY KEY (code, valid_from)
);

CREATE TABLE sources (
    source      ctext PRIMARY KEY,
    org_unit    ctext NULL REFERENCES org_units(code),
    placed_at   ctext NOT NULL,
    placed_by   ctext NOT NULL
);

CREATE TABLE reporting_plans (
    code        ctext PRIMARY KEY,
    name        ctext NOT NULL,
    metrics     ctext NOT NULL,
    frequency   ctext NOT NULL CHECK (frequency IN ('month', 'quarter', 'year')),
    reporters   ctext NOT NULL,
    due_days    bigint NOT NULL,
    starts_on   ctext NOT NULL,
    ends_on     ctext,
    created_at  ctext NOT NULL,
    updated_at  ctext NOT NULL
);

CREATE TABLE reporting_submissions (
    id            ctext PRIMARY KEY,
    plan          ctext NOT NULL REFERENCES reporting_plans(code),
    period        ctext NOT NULL,
    org_unit      ctext NOT NULL REFERENCES org_units(code),
    state         ctext NOT NULL CHECK (state IN ('submitted', 'approved', 'returned')),
    submitted_at  ctext NOT NULL,
    submitted_by  ctext NOT NULL,
    decided_at    ctext,
    decided_by    ctext,
    return_reason ctext
);
CREATE UNIQUE INDEX ux_reporting_submissions_live ON reporting_submissions(plan, period, org_unit)
    WHERE state IN ('submitted', 'approved');
CREATE INDEX ix_reporting_submissions_plan_period ON reporting_submissions(plan, period, org_unit);

CREATE TABLE reporting_frozen_cells (
    org_unit      ctext NOT NULL,
    metric        ctext NOT NULL,
    month         ctext NOT NULL,
    submission_id ctext NOT NULL REFERENCES reporting_submissions(id),
    PRIMARY KEY (org_unit, metric, month, submission_id)
);
CREATE INDEX ix_reporting_frozen_cells_metric ON reporting_frozen_cells(metric, month, org_unit);

CREATE TABLE unit_month_recordings (
    metric            ctext NOT NULL,
    month             ctext NOT NULL,
    org_unit          ctext NOT NULL,
    first_recorded_at ctext NOT NULL,
    last_recorded_at  ctext NOT NULL,
    PRIMARY KEY (metric, month, org_unit)
);

-- The lean ledger (SQLite 0110): seq in commit order, the published id unique beside it, five B-trees an event.
-- PostgreSQL's heap has no clustered key, so (x, day) indexes do not end in seq as SQLite's do: the listing's
-- seq order within a day is a sort there (small: one day of a metric or unit).
CREATE TABLE events (
    seq            bigint PRIMARY KEY,
    id             ctext NOT NULL,
    metric         ctext NOT NULL REFERENCES metrics(code),
    occurred_on    ctext NOT NULL,
    quantity       bigint NOT NULL CHECK (quantity BETWEEN 1 AND 1000000000),
    org_unit       ctext NOT NULL REFERENCES org_units(code),
    campaign       ctext NULL REFERENCES campaigns(code),
    dimensions     ctext NOT NULL DEFAULT '{}',
    external_id    ctext NULL,
    note           ctext NULL,
    source         ctext NOT NULL,
    recorded_at    ctext NOT NULL,
    voided_at      ctext NULL,
    void_reason    ctext NULL,
    supersedes     ctext NULL,
    superseded_by  ctext NULL,
    audit_seq      bigint NULL
);
CREATE UNIQUE INDEX ux_events_id ON events(id);
ALTER TABLE events ADD FOREIGN KEY (supersedes) REFERENCES events(id) DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE events ADD FOREIGN KEY (superseded_by) REFERENCES events(id) DEFERRABLE INITIALLY IMMEDIATE;
CREATE UNIQUE INDEX ux_events_source_external_head
    ON events(source, external_id) WHERE external_id IS NOT NULL AND superseded_by IS NULL;
CREATE INDEX ix_events_metric_day ON events(metric, occurred_on);
CREATE INDEX ix_events_unit_day ON events(org_unit, occurred_on);
CREATE INDEX ix_events_day ON events(occurred_on);
