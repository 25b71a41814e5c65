-- The as-of rollups of SQLite's migration 0120 (migrations/0120_asof_rollups.sql says what they hold and why reads
-- from them are exact): sums of changes per UTC hour of the change, the kept digest's limbs, and the log of voids.
-- A PostgreSQL database starts empty (0001_schema.sql), so there is nothing to backfill and nothing pending.
CREATE TABLE asof_rollups (
    metric      ctext NOT NULL,
    month       ctext NOT NULL,
    org_unit    ctext NOT NULL,
    campaign    ctext NOT NULL DEFAULT '',
    dimensions  ctext NOT NULL DEFAULT '{}',
    hour        ctext NOT NULL,
    value       bigint NOT NULL,
    events      bigint NOT NULL,
    PRIMARY KEY (metric, month, org_unit, campaign, dimensions, hour)
);

CREATE TABLE asof_unit_rollups (
    metric      ctext NOT NULL,
    month       ctext NOT NULL,
    org_unit    ctext NOT NULL,
    hour        ctext NOT NULL,
    value       bigint NOT NULL,
    events      bigint NOT NULL,
    d0 bigint NOT NULL, d1 bigint NOT NULL, d2 bigint NOT NULL, d3 bigint NOT NULL,
    d4 bigint NOT NULL, d5 bigint NOT NULL, d6 bigint NOT NULL, d7 bigint NOT NULL,
    PRIMARY KEY (metric, month, org_unit, hour)
);

CREATE TABLE asof_voids (
    voided_at  ctext NOT NULL,
    event_id   ctext NOT NULL,
    PRIMARY KEY (voided_at, event_id)
);

CREATE TABLE asof_digest_pending (one bigint PRIMARY KEY CHECK (one = 1));
