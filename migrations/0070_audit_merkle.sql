-- The Merkle audit form: one audit entry per write command that creates events, committing to them through an
-- RFC 6962 root over their leaf JSON (Api/Ledger/MerkleTree.cs). Each event names the entry that records its creation.
ALTER TABLE events ADD COLUMN audit_seq INTEGER NULL;

-- Events from before this form: each was recorded by its own event.created entry (looked up through ix_audit_log_entity).
-- An event with no such entry keeps NULL, and /audit/verify names it.
UPDATE events SET audit_seq = (
    SELECT a.seq FROM audit_log a WHERE a.entity = 'event:' || events.id AND a.action = 'event.created'
    ORDER BY a.seq LIMIT 1);

-- The hashes of an entry's chunks of 1024 consecutive events (aligned subtrees of its tree; the last may be partial),
-- for entries of more than 1024 events: GET /events/{id}/proof rehashes one chunk instead of the whole command.
-- Not part of the chain (the root is): /audit/verify recomputes every chunk from the events and compares.
CREATE TABLE audit_chunks (
    seq             INTEGER NOT NULL,        -- the audit entry
    first_event_id  TEXT NOT NULL,           -- the chunk's first event
    chunk           INTEGER NOT NULL,        -- 0, 1, ... in event order
    hash            BLOB NOT NULL,           -- MTH of the chunk's leaves
    PRIMARY KEY (seq, first_event_id)
) WITHOUT ROWID;
