-- Kept sums for reads "as of" an instant (GET /totals?asOf=, GET /reports/annual/{year}?asOf=): the rollups again,
-- but also keyed by the UTC hour in which each amount entered or left the active set. An event adds +quantity, +1 to
-- the row of the hour of its recorded_at, and its void adds -quantity, -1 to the row of the hour of its voided_at
-- (a supersession is a void of the old event and a new event). Nothing is ever deleted: a row is a sum of changes,
-- not of active events. Kept by Ledger/Rollups.cs in the writer's transaction; read through Ledger/AsOfCut.cs.
--
-- Exactness (Ledger/AsOfCut.cs; Api/README.md, "Reads as of an instant"): an event counts as of t when
-- recorded_at <= t and not (voided_at <= t); voided_at is never before recorded_at, so its count is
-- [recorded_at <= t] - [voided_at <= t]. The rows of hours that end by the start of t's hour hold exactly the changes
-- at instants before it; the changes in [hour start, t] are read from the ledger (few: one hour at most), or the other
-- way round: all rows up to t's hour minus the changes in (t, hour end).
--
-- hour: 'yyyy-MM-ddTHH', the first 13 characters of the storage instant, so text order is time order.
CREATE TABLE asof_rollups (
    metric      TEXT NOT NULL,
    month       TEXT NOT NULL,             -- yyyy-MM of occurred_on
    org_unit    TEXT NOT NULL,
    campaign    TEXT NOT NULL DEFAULT '',  -- '' for no campaign, as in the other rollups
    dimensions  TEXT NOT NULL DEFAULT '{}',
    hour        TEXT NOT NULL,
    value       INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    PRIMARY KEY (metric, month, org_unit, campaign, dimensions, hour)
) WITHOUT ROWID;

-- Per metric, month and unit only (totals with no campaign or dimension in play, and the annual report), with the
-- kept digest's set sum: d0..d7 are the sums of the eight 32-bit limbs (d0 the least significant) of SHA-256(id TAB
-- quantity LF) of the events added, minus those voided, without carries. Each stays far inside 64 bits (below 2^32
-- per event), and the digest is their sum mod 2^256 (Ledger/SetDigest.cs).
CREATE TABLE asof_unit_rollups (
    metric      TEXT NOT NULL,
    month       TEXT NOT NULL,
    org_unit    TEXT NOT NULL,
    hour        TEXT NOT NULL,
    value       INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    d0 INTEGER NOT NULL, d1 INTEGER NOT NULL, d2 INTEGER NOT NULL, d3 INTEGER NOT NULL,
    d4 INTEGER NOT NULL, d5 INTEGER NOT NULL, d6 INTEGER NOT NULL, d7 INTEGER NOT NULL,
    PRIMARY KEY (metric, month, org_unit, hour)
) WITHOUT ROWID;

-- The voids of one partial hour are found in this log of voids (kept by Ledger/Rollups.cs with the void, one row per
-- void: nothing for an active event, and no index on events); the recordings of one hour are a range of seq, as
-- recorded_at grows with seq.
CREATE TABLE asof_voids (
    voided_at  TEXT NOT NULL,   -- the event's voided_at
    event_id   TEXT NOT NULL,   -- events.id
    PRIMARY KEY (voided_at, event_id)
) WITHOUT ROWID;
INSERT INTO asof_voids (voided_at, event_id) SELECT voided_at, id FROM events WHERE voided_at IS NOT NULL;

-- Backfill from the ledger: +1 at the hour of recording, -1 at the hour of the void. The digest limbs are filled in
-- by the application at start (Ledger/AsOfBackfill.cs), since SQLite has no SHA-256: until then rows carry limbs 0 and
-- asof_digest_pending says so.
INSERT INTO asof_rollups (metric, month, org_unit, campaign, dimensions, hour, value, events)
SELECT metric, month, org_unit, campaign, dimensions, hour, sum(value), sum(events)
FROM (
    SELECT metric, substr(occurred_on, 1, 7) AS month, org_unit, coalesce(campaign, '') AS campaign, dimensions,
           substr(recorded_at, 1, 13) AS hour, quantity AS value, 1 AS events
    FROM events
    UNION ALL
    SELECT metric, substr(occurred_on, 1, 7), org_unit, coalesce(campaign, ''), dimensions,
           substr(voided_at, 1, 13), -quantity, -1
    FROM events WHERE voided_at IS NOT NULL
)
GROUP BY metric, month, org_unit, campaign, dimensions, hour;

INSERT INTO asof_unit_rollups (metric, month, org_unit, hour, value, events, d0, d1, d2, d3, d4, d5, d6, d7)
SELECT metric, month, org_unit, hour, sum(value), sum(events), 0, 0, 0, 0, 0, 0, 0, 0
FROM asof_rollups
GROUP BY metric, month, org_unit, hour;

CREATE TABLE asof_digest_pending (one INTEGER PRIMARY KEY CHECK (one = 1));
INSERT INTO asof_digest_pending (one) SELECT 1 WHERE EXISTS (SELECT 1 FROM events);
