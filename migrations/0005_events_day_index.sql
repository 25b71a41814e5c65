-- GET /events and its export for one day (or, for exports, a few weeks): a range of this index instead of a walk
-- over every event in id order. One day's entries are already in id order. EventFilter.ToSql decides which
-- periods use it: a long period is better served by an id-ordered walk that stops early.
CREATE INDEX ix_events_day_id ON events(occurred_on, id);
