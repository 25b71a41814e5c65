-- The as-of rollups at three levels of the change's UTC instant, as SQLite's migration 0130
-- (migrations/0130_asof_levels.sql says what each level holds and why a read from them is exact).
CREATE TABLE asof_month_new (
    metric      ctext NOT NULL,
    month       ctext NOT NULL,             -- yyyy-MM of occurred_on
    org_unit    ctext NOT NULL,
    campaign    ctext NOT NULL DEFAULT '',
    dimensions  ctext NOT NULL DEFAULT '{}',
    changed     ctext NOT NULL,             -- yyyy-MM
    value       bigint NOT NULL,
    events      bigint NOT NULL,
    PRIMARY KEY (metric, month, org_unit, campaign, dimensions, changed)
);

CREATE TABLE asof_day_rollups (
    changed     ctext NOT NULL,             -- yyyy-MM-dd
    metric      ctext NOT NULL,
    month       ctext NOT NULL,
    org_unit    ctext NOT NULL,
    campaign    ctext NOT NULL DEFAULT '',
    dimensions  ctext NOT NULL DEFAULT '{}',
    value       bigint NOT NULL,
    events      bigint NOT NULL,
    PRIMARY KEY (changed, metric, month, org_unit, campaign, dimensions)
);

CREATE TABLE asof_hour_rollups (
    changed     ctext NOT NULL,             -- yyyy-MM-ddTHH
    metric      ctext NOT NULL,
    month       ctext NOT NULL,
    org_unit    ctext NOT NULL,
    campaign    ctext NOT NULL DEFAULT '',
    dimensions  ctext NOT NULL DEFAULT '{}',
    value       bigint NOT NULL,
    events      bigint NOT NULL,
    PRIMARY KEY (changed, metric, month, org_unit, campaign, dimensions)
);

-- Per metric, month and unit only, with the kept digest's limb sums (as in 0120).
CREATE TABLE asof_unit_month_new (
    metric      ctext NOT NULL,
    month       ctext NOT NULL,
    org_unit    ctext NOT NULL,
    changed     ctext NOT NULL,
    value       bigint NOT NULL,
    events      bigint NOT NULL,
    d0 bigint NOT NULL, d1 bigint NOT NULL, d2 bigint NOT NULL, d3 bigint NOT NULL,
    d4 bigint NOT NULL, d5 bigint NOT NULL, d6 bigint NOT NULL, d7 bigint NOT NULL,
    PRIMARY KEY (metric, month, org_unit, changed)
);

CREATE TABLE asof_unit_day_rollups (
    changed     ctext NOT NULL,
    metric      ctext NOT NULL,
    month       ctext NOT NULL,
    org_unit    ctext NOT NULL,
    value       bigint NOT NULL,
    events      bigint NOT NULL,
    d0 bigint NOT NULL, d1 bigint NOT NULL, d2 bigint NOT NULL, d3 bigint NOT NULL,
    d4 bigint NOT NULL, d5 bigint NOT NULL, d6 bigint NOT NULL, d7 bigint NOT NULL,
    PRIMARY KEY (changed, metric, month, org_unit)
);

CREATE TABLE asof_unit_hour_rollups (
    changed     ctext NOT NULL,
    metric      ctext NOT NULL,
    month       ctext NOT NULL,
    org_unit    ctext NOT NULL,
    value       bigint NOT NULL,
    events      bigint NOT NULL,
    d0 bigint NOT NULL, d1 bigint NOT NULL, d2 bigint NOT NULL, d3 bigint NOT NULL,
    d4 bigint NOT NULL, d5 bigint NOT NULL, d6 bigint NOT NULL, d7 bigint NOT NULL,
    PRIMARY KEY (changed, metric, month, org_unit)
);

-- The hour rows of 0120 are the hour level as they stand; the day and month levels are their sums (limbs included:
-- sums of limb sums, or zeros still pending for Ledger/AsOfBackfill.cs).
INSERT INTO asof_hour_rollups (changed, metric, month, org_unit, campaign, dimensions, value, events)
SELECT hour, metric, month, org_unit, campaign, dimensions, value, events FROM asof_rollups;
INSERT INTO asof_day_rollups (changed, metric, month, org_unit, campaign, dimensions, value, events)
SELECT substr(hour, 1, 10), metric, month, org_unit, campaign, dimensions, sum(value), sum(events)
FROM asof_rollups GROUP BY substr(hour, 1, 10), metric, month, org_unit, campaign, dimensions;
INSERT INTO asof_month_new (metric, month, org_unit, campaign, dimensions, changed, value, events)
SELECT metric, month, org_unit, campaign, dimensions, substr(hour, 1, 7), sum(value), sum(events)
FROM asof_rollups GROUP BY metric, month, org_unit, campaign, dimensions, substr(hour, 1, 7);

INSERT INTO asof_unit_hour_rollups (changed, metric, month, org_unit, value, events, d0, d1, d2, d3, d4, d5, d6, d7)
SELECT hour, metric, month, org_unit, value, events, d0, d1, d2, d3, d4, d5, d6, d7 FROM asof_unit_rollups;
INSERT INTO asof_unit_day_rollups (changed, metric, month, org_unit, value, events, d0, d1, d2, d3, d4, d5, d6, d7)
SELECT substr(hour, 1, 10), metric, month, org_unit, sum(value), sum(events),
       sum(d0), sum(d1), sum(d2), sum(d3), sum(d4), sum(d5), sum(d6), sum(d7)
FROM asof_unit_rollups GROUP BY substr(hour, 1, 10), metric, month, org_unit;
INSERT INTO asof_unit_month_new (metric, month, org_unit, changed, value, events, d0, d1, d2, d3, d4, d5, d6, d7)
SELECT metric, month, org_unit, substr(hour, 1, 7), sum(value), sum(events),
       sum(d0), sum(d1), sum(d2), sum(d3), sum(d4), sum(d5), sum(d6), sum(d7)
FROM asof_unit_rollups GROUP BY metric, month, org_unit, substr(hour, 1, 7);

DROP TABLE asof_rollups;
DROP TABLE asof_unit_rollups;
ALTER TABLE asof_month_new RENAME TO asof_month_rollups;
ALTER TABLE asof_unit_month_new RENAME TO asof_unit_month_rollups;
