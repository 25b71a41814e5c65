-- An import is stored in pieces (Features/Imports/ImportStaging.cs): each piece of its rows is written here in its own
-- short group, between other writers' groups, and the whole import is moved into `events` by one last group that gives
-- its events their ids, recorded_at and audit entry at once. Until then nothing of it is in `events`, the rollups or
-- the audit chain, so no read can see it; a refused or interrupted import leaves only rows here, which are deleted
-- (in pieces, or at the next start). Rows hold the mapped event as it will be stored, in file order (`n`).
CREATE TABLE import_staged_events (
    n            INTEGER PRIMARY KEY,  -- staging order: file order within an import
    import_id    TEXT NOT NULL,
    metric       TEXT NOT NULL,
    occurred_on  TEXT NOT NULL,
    quantity     INTEGER NOT NULL,
    org_unit     TEXT NOT NULL,
    campaign     TEXT NULL,
    dimensions   TEXT NOT NULL,
    external_id  TEXT NULL,
    note         TEXT NULL,
    source       TEXT NOT NULL
);
-- An externalId a running import will create is held: another writer of the same source and externalId is told to retry
-- (503) instead of racing the import to the head index of `events`. One seek, on a table empty but while an import stores.
CREATE UNIQUE INDEX ux_import_staged_source_external
    ON import_staged_events(source, external_id) WHERE external_id IS NOT NULL;
