-- Scratch space for the writability probe (/health/ready after a storage failure): a row is inserted and deleted in
-- one committed transaction, so the probe needs fresh pages and log space exactly as a real write does.
CREATE TABLE health_probe (
    id INTEGER PRIMARY KEY,
    filler BLOB NOT NULL
);
