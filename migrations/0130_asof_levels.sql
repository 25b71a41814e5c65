-- The as-of rollups of 0120 kept one row per UTC hour of change, so a read as of t summed every hour before t: at 10M
-- events recorded over years that is millions of rows. Now each change is kept at three levels of its UTC instant:
-- the month, the day and the hour, and a read takes the months before t's month, then (the fewer of) the days before
-- or after t's day within that month, then the hours before or after t's hour within that day, then the changes of
-- the rest of t's hour from the ledger (Ledger/AsOfCut.cs; Api/README.md, "Reads as of an instant"). Each level is
-- exact because its buckets nest inside the one above: every bound a read uses is the start of a month, day or hour.
--
-- changed: the first 7, 10 or 13 characters of the change's storage instant ('yyyy-MM', 'yyyy-MM-dd',
-- 'yyyy-MM-ddTHH'), so text order is time order. The month level is keyed by metric first (a year's months are one
-- range per metric, as in the other rollups); the day and hour levels by the change first, since a read takes a few
-- of them across every metric and month.
CREATE TABLE asof_month_new (
    metric      TEXT NOT NULL,
    month       TEXT NOT NULL,             -- yyyy-MM of occurred_on
    org_unit    TEXT NOT NULL,
    campaign    TEXT NOT NULL DEFAULT '',
    dimensions  TEXT NOT NULL DEFAULT '{}',
    changed     TEXT NOT NULL,             -- yyyy-MM
    value       INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    PRIMARY KEY (metric, month, org_unit, campaign, dimensions, changed)
) WITHOUT ROWID;

CREATE TABLE asof_day_rollups (
    changed     TEXT NOT NULL,             -- yyyy-MM-dd
    metric      TEXT NOT NULL,
    month       TEXT NOT NULL,
    org_unit    TEXT NOT NULL,
    campaign    TEXT NOT NULL DEFAULT '',
    dimensions  TEXT NOT NULL DEFAULT '{}',
    value       INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    PRIMARY KEY (changed, metric, month, org_unit, campaign, dimensions)
) WITHOUT ROWID;

CREATE TABLE asof_hour_rollups (
    changed     TEXT NOT NULL,             -- yyyy-MM-ddTHH
    metric      TEXT NOT NULL,
    month       TEXT NOT NULL,
    org_unit    TEXT NOT NULL,
    campaign    TEXT NOT NULL DEFAULT '',
    dimensions  TEXT NOT NULL DEFAULT '{}',
    value       INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    PRIMARY KEY (changed, metric, month, org_unit, campaign, dimensions)
) WITHOUT ROWID;

-- Per metric, month and unit only, with the kept digest's limb sums (as in 0120).
CREATE TABLE asof_unit_month_new (
    metric      TEXT NOT NULL,
    month       TEXT NOT NULL,
    org_unit    TEXT NOT NULL,
    changed     TEXT NOT NULL,
    value       INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    d0 INTEGER NOT NULL, d1 INTEGER NOT NULL, d2 INTEGER NOT NULL, d3 INTEGER NOT NULL,
    d4 INTEGER NOT NULL, d5 INTEGER NOT NULL, d6 INTEGER NOT NULL, d7 INTEGER NOT NULL,
    PRIMARY KEY (metric, month, org_unit, changed)
) WITHOUT ROWID;

CREATE TABLE asof_unit_day_rollups (
    changed     TEXT NOT NULL,
    metric      TEXT NOT NULL,
    month       TEXT NOT NULL,
    org_unit    TEXT NOT NULL,
    value       INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    d0 INTEGER NOT NULL, d1 INTEGER NOT NULL, d2 INTEGER NOT NULL, d3 INTEGER NOT NULL,
    d4 INTEGER NOT NULL, d5 INTEGER NOT NULL, d6 INTEGER NOT NULL, d7 INTEGER NOT NULL,
    PRIMARY KEY (changed, metric, month, org_unit)
) WITHOUT ROWID;

CREATE TABLE asof_unit_hour_rollups (
    changed     TEXT NOT NULL,
    metric      TEXT NOT NULL,
    month       TEXT NOT NULL,
    org_unit    TEXT NOT NULL,
    value       INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    d0 INTEGER NOT NULL, d1 INTEGER NOT NULL, d2 INTEGER NOT NULL, d3 INTEGER NOT NULL,
    d4 INTEGER NOT NULL, d5 INTEGER NOT NULL, d6 INTEGER NOT NULL, d7 INTEGER NOT NULL,
    PRIMARY KEY (changed, metric, month, org_unit)
) WITHOUT ROWID;

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
