-- A source is the idempotency namespace of one client system, so it has one place in the tree: the org unit of the
-- first key that named it (NULL: the first key was unbound, and the source may be used anywhere). A later key may name
-- the source only with that unit or one inside it.
CREATE TABLE sources (
    source      TEXT PRIMARY KEY,
    org_unit    TEXT NULL REFERENCES org_units(code),
    placed_at   TEXT NOT NULL,               -- when its first key was created
    placed_by   TEXT NOT NULL                -- that key's id
);

-- Existing keys place their sources, earliest key first (revoked keys too: their events still carry the source).
INSERT INTO sources (source, org_unit, placed_at, placed_by)
SELECT source, org_unit, created_at, id FROM (
    SELECT source, org_unit, created_at, id,
           row_number() OVER (PARTITION BY source ORDER BY created_at, id) AS n
    FROM api_keys
) WHERE n = 1;
