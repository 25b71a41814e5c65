-- Every state a metric has had, from the instant it took effect (the updated_at of the write), so that a report at an
-- earlier asOf uses the catalog as it stood then (CONTRACT.md, annual report). Kept by triggers, so every write of
-- metrics records its state in the same transaction, whichever code writes it.
CREATE TABLE metric_history (
    code             TEXT NOT NULL,
    valid_from       TEXT NOT NULL,          -- UTC instant, fixed-width like recorded_at
    position         INTEGER NOT NULL,
    name             TEXT NOT NULL,
    name_en          TEXT NULL,
    unit             TEXT NOT NULL,
    description      TEXT NULL,
    dimensions       TEXT NOT NULL,
    report_template  TEXT NULL,
    approximate      INTEGER NOT NULL,
    active           INTEGER NOT NULL,
    PRIMARY KEY (code, valid_from)
) WITHOUT ROWID;

-- What a database already held has no earlier states on record: its metrics stand as they are from the beginning.
INSERT INTO metric_history (code, valid_from, position, name, name_en, unit, description, dimensions, report_template,
                            approximate, active)
SELECT code, '0001-01-01T00:00:00.0000000Z', position, name, name_en, unit, description, dimensions, report_template,
       approximate, active
FROM metrics;

-- Two writes at one instant (one group commit): the later one is the state from that instant on.
CREATE TRIGGER metric_history_on_insert AFTER INSERT ON metrics
BEGIN
    INSERT OR REPLACE INTO metric_history (code, valid_from, position, name, name_en, unit, description, dimensions,
                                           report_template, approximate, active)
    VALUES (NEW.code, NEW.updated_at, NEW.position, NEW.name, NEW.name_en, NEW.unit, NEW.description, NEW.dimensions,
            NEW.report_template, NEW.approximate, NEW.active);
END;

CREATE TRIGGER metric_history_on_update AFTER UPDATE ON metrics
BEGIN
    INSERT OR REPLACE INTO metric_history (code, valid_from, position, name, name_en, unit, description, dimensions,
                                           report_template, approximate, active)
    VALUES (NEW.code, NEW.updated_at, NEW.position, NEW.name, NEW.name_en, NEW.unit, NEW.description, NEW.dimensions,
            NEW.report_template, NEW.approximate, NEW.active);
END;
