-- The as-of day and month levels summed from the hour rows once an hour has closed, as SQLite's migration 0140
-- (migrations/0140_asof_fold.sql says why a read stays exact whatever the fold's lag).
CREATE TABLE asof_folded (
    one      integer PRIMARY KEY CHECK (one = 1),
    through  ctext NOT NULL      -- yyyy-MM-ddTHH, exclusive; '0001-01-01T00' when there were no changes
);
INSERT INTO asof_folded (one, through)
SELECT 1, coalesce(to_char((max(changed) || ':00:00')::timestamp + interval '1 hour', 'YYYY-MM-DD"T"HH24'), '0001-01-01T00')
FROM asof_hour_rollups;
