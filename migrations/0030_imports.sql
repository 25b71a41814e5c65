-- POST /imports: one row per import job. Progress while it runs lives in memory; the row holds its fate.
CREATE TABLE imports (
    id          TEXT PRIMARY KEY,
    name        TEXT,
    key_id      TEXT NOT NULL,
    format      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    dry_run     INTEGER NOT NULL,
    mode        TEXT NOT NULL CHECK (mode IN ('create', 'upsert')),
    rows        INTEGER NOT NULL DEFAULT 0,
    processed   INTEGER NOT NULL DEFAULT 0,
    created     INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    superseded  INTEGER NOT NULL DEFAULT 0,
    invalid     INTEGER NOT NULL DEFAULT 0,
    conflicts   INTEGER NOT NULL DEFAULT 0,
    errors      TEXT NOT NULL DEFAULT '[]',  -- JSON array of {row, field, message}, the first 1000
    detail      TEXT,                        -- why it failed, when no single row says it
    created_at  TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX ix_imports_key ON imports(key_id);
