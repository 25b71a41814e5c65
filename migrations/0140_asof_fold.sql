-- A change is now written to the hour level of the as-of rollups only (two upserts instead of six); the day and month
-- levels are summed from the hour rows once an hour has closed, by the first group of a later hour
-- (Ledger/AsOfChanges.cs), in that group's transaction. asof_folded says how far that has gone: every hour row before
-- `through` is in the day and month levels, none after it. A read as of t cuts the levels at boundaries no later than
-- `through` and takes the hour rows from there (Ledger/AsOfCut.cs), so it stays exact whatever the fold's lag.
--
-- Every change stored so far is in all three levels (0130 wrote them so): the fold starts at the hour after the last.
CREATE TABLE asof_folded (
    one      INTEGER PRIMARY KEY CHECK (one = 1),
    through  TEXT NOT NULL   -- yyyy-MM-ddTHH, exclusive; '0001-01-01T00' when there were no changes
);
INSERT INTO asof_folded (one, through)
SELECT 1, coalesce(strftime('%Y-%m-%dT%H', max(changed) || ':00:00', '+1 hour'), '0001-01-01T00') FROM asof_hour_rollups;
