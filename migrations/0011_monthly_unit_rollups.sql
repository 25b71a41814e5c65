-- Sums of active events per metric, month and org unit only: what totals read for whole months when a query neither
-- filters nor groups by campaign or dimension (yearly totals, groupBy month/quarter/orgUnit), about 20 times fewer
-- rows than monthly_rollups. Kept by EventLedger.AddToRollups in the same transaction as the other rollups.
CREATE TABLE monthly_unit_rollups (
    metric      TEXT NOT NULL,
    month       TEXT NOT NULL,             -- yyyy-MM
    org_unit    TEXT NOT NULL,
    value       INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    PRIMARY KEY (metric, month, org_unit)
) WITHOUT ROWID;

INSERT INTO monthly_unit_rollups (metric, month, org_unit, value, events)
SELECT metric, month, org_unit, sum(value), sum(events)
FROM monthly_rollups
GROUP BY metric, month, org_unit;
