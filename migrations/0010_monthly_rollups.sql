-- Sums of active events per month and combination, kept by EventLedger.AddToRollups in the same transaction as
-- daily_rollups. Totals read whole months from here (about 30 times fewer rows than daily) and only the partial
-- months at either end of a period from daily_rollups.
CREATE TABLE monthly_rollups (
    metric      TEXT NOT NULL,
    month       TEXT NOT NULL,             -- yyyy-MM
    org_unit    TEXT NOT NULL,
    campaign    TEXT NOT NULL DEFAULT '',  -- '' for no campaign, as in daily_rollups
    dimensions  TEXT NOT NULL DEFAULT '{}',
    value       INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    PRIMARY KEY (metric, month, org_unit, campaign, dimensions)
) WITHOUT ROWID;

INSERT INTO monthly_rollups (metric, month, org_unit, campaign, dimensions, value, events)
SELECT metric, substr(day, 1, 7), org_unit, campaign, dimensions, sum(value), sum(events)
FROM daily_rollups
GROUP BY metric, substr(day, 1, 7), org_unit, campaign, dimensions;
