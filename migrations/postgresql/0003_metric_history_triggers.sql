-- metric_history as SQLite's 0050 keeps it: every insert or update of a metric writes the metric as it now stands,
-- valid from its updated_at (a second change at the same instant replaces the first).
CREATE FUNCTION metric_history_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO metric_history (code, valid_from, position, name, name_en, unit, description, dimensions,
                                report_template, approximate, active)
    VALUES (NEW.code, NEW.updated_at, NEW.position, NEW.name, NEW.name_en, NEW.unit, NEW.description, NEW.dimensions,
            NEW.report_template, NEW.approximate, NEW.active)
    ON CONFLICT (code, valid_from) DO UPDATE
    SET position = excluded.position, name = excluded.name, name_en = excluded.name_en, unit = excluded.unit,
        description = excluded.description, dimensions = excluded.dimensions,
        report_template = excluded.report_template, approximate = excluded.approximate, active = excluded.active;
    RETURN NULL;
END
$$;

CREATE TRIGGER metric_history_on_insert AFTER INSERT ON metrics FOR EACH ROW EXECUTE FUNCTION metric_history_keep();
CREATE TRIGGER metric_history_on_update AFTER UPDATE ON metrics FOR EACH ROW EXECUTE FUNCTION metric_history_keep();
