-- The catalog: org units (with their closure), metrics, campaigns.
CREATE TABLE org_units (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    parent      TEXT NULL REFERENCES org_units(code),
    position    INTEGER NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- One row per (ancestor, descendant) pair, including each unit with itself at depth 0.
CREATE TABLE org_unit_closure (
    ancestor    TEXT NOT NULL REFERENCES org_units(code),
    descendant  TEXT NOT NULL REFERENCES org_units(code),
    depth       INTEGER NOT NULL,
    PRIMARY KEY (ancestor, descendant)
) WITHOUT ROWID;
CREATE INDEX ix_org_unit_closure_descendant ON org_unit_closure(descendant, ancestor);

CREATE TABLE metrics (
    code             TEXT PRIMARY KEY,
    position         INTEGER NOT NULL UNIQUE,  -- catalog order: seeded order, then creation order
    name             TEXT NOT NULL,
    name_en          TEXT NULL,
    unit             TEXT NOT NULL,
    description      TEXT NULL,
    dimensions       TEXT NOT NULL DEFAULT '[]', -- JSON: [{"key": "...", "values": ["..."]}]
    report_template  TEXT NULL,
    approximate      INTEGER NOT NULL DEFAULT 0,
    active           INTEGER NOT NULL DEFAULT 1,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

CREATE TABLE campaigns (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    starts_on   TEXT NOT NULL,
    ends_on     TEXT NOT NULL,
    position    INTEGER NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
