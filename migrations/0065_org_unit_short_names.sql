-- Org units get an optional short name (河东区 for 河东区互联网信息办公室): the annual report's title uses it, and
-- imports take an org unit by its code, name or short name. Org units keep no history table (no triggers), so the
-- column is all there is. The seeded hedong gets its short name only while it still has its seeded name.
ALTER TABLE org_units ADD COLUMN short_name TEXT NULL;

UPDATE org_units SET short_name = '河东区'
WHERE code = 'hedong' AND name = '河东区互联网信息办公室' AND short_name IS NULL
  AND NOT EXISTS (SELECT 1 FROM org_units other
                  WHERE other.code <> 'hedong' AND (other.name = '河东区' OR other.short_name = '河东区'));
