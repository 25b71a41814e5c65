-- The lean ledger: events keyed inside by an integer `seq` in commit order (the table's rowid), the published `evt_`
-- ids kept unchanged in a unique column. Every secondary index of a rowid table ends in the rowid, so an index on
-- (a, b) is also ordered by seq within (a, b), and each entry carries an 8-byte key instead of a 30-character id.
--
-- Ids are assigned in commit order (IdGenerator), and rows are inserted in that order, so seq order is id order: the
-- copy below numbers the rows by id. recorded_at never decreases along seq (GroupClock: each group's instant is later
-- than the previous one), so "recorded after t" is a range of seq and needs no index of its own.
--
-- The B-trees an event now costs, each earned by a query of the contract (Api.Tests/Ledger/LeanSchemaTests.cs shows
-- each plan with EXPLAIN QUERY PLAN):
--   events (seq)                        the table: GET /events and its export walk it in id order; audit verify.
--   ux_events_id (id)                   GET /events/{id}, its proof, void, cursors, supersede links.
--   ux_events_source_external_head      idempotency: one head event per (source, externalId); only rows with one.
--   ix_events_metric_day (metric, day)  the annual report's counted events and digest, asOf totals, a metric's days.
--   ix_events_unit_day (unit, day)      a unit's recording span after a void, a street's report, a unit's days.
--   ix_events_day (day)                 GET /events for one day or a few, in id order.
-- Gone: the recorded_at index (a seq range instead), and the five (x, id) listing indexes: a filter on metric, org
-- unit, source or campaign walks the table in seq order and stops after a page, or seeks by day. Gone too: the key_id
-- column, written and never read (the command's audit entry names its actor, key id and name).
-- Migrations run with foreign keys on, one transaction each. The old table steps aside first (its references to itself
-- go with it), and the new one takes the name; a row's superseded_by names a later row, so the references between
-- events rows are checked at commit, when every row is in.
PRAGMA defer_foreign_keys = ON;
ALTER TABLE events RENAME TO events_text_keyed;

CREATE TABLE events (
    seq            INTEGER PRIMARY KEY,       -- commit order; internal, never published
    id             TEXT NOT NULL,             -- evt_<ULID>, as published (ux_events_id)
    metric         TEXT NOT NULL REFERENCES metrics(code),
    occurred_on    TEXT NOT NULL,             -- yyyy-MM-dd
    quantity       INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 1000000000),
    org_unit       TEXT NOT NULL REFERENCES org_units(code),
    campaign       TEXT NULL REFERENCES campaigns(code),
    dimensions     TEXT NOT NULL DEFAULT '{}', -- canonical JSON object, keys sorted
    external_id    TEXT NULL,
    note           TEXT NULL,
    source         TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,             -- UTC instant, fixed-width so text order is time order
    voided_at      TEXT NULL,
    void_reason    TEXT NULL,
    supersedes     TEXT NULL REFERENCES events(id),
    superseded_by  TEXT NULL REFERENCES events(id),
    audit_seq      INTEGER NULL               -- the audit entry that records the event's creation
);
-- Before the copy: the parent key of the references between rows (the other indexes are built after it, at once).
CREATE UNIQUE INDEX ux_events_id ON events(id);

INSERT INTO events (id, metric, occurred_on, quantity, org_unit, campaign, dimensions, external_id, note, source,
                    recorded_at, voided_at, void_reason, supersedes, superseded_by, audit_seq)
SELECT id, metric, occurred_on, quantity, org_unit, campaign, dimensions, external_id, note, source,
       recorded_at, voided_at, void_reason, supersedes, superseded_by, audit_seq
FROM events_text_keyed ORDER BY id;

DROP TABLE events_text_keyed;

CREATE UNIQUE INDEX ux_events_source_external_head
    ON events(source, external_id) WHERE external_id IS NOT NULL AND superseded_by IS NULL;
CREATE INDEX ix_events_metric_day ON events(metric, occurred_on);
CREATE INDEX ix_events_unit_day ON events(org_unit, occurred_on);
CREATE INDEX ix_events_day ON events(occurred_on);
