-- GET /audit?after=<instant> starts at the first entry after the instant instead of scanning the chain from seq 1.
CREATE INDEX ix_audit_log_at ON audit_log(at, seq);
