-- Connections to other nodes (or between two projects of this node), and what the node-to-node
-- protocol keeps per connection: the messages queued for the remote, the last message received
-- from it, and the request nonces seen recently (replay protection).
--
-- Conventions as in 0001: times are INTEGER unix milliseconds (UTC); tables are STRICT; flags
-- are INTEGER 0/1. Ids are uuids as lower-case hyphenated TEXT, as both nodes spell them.
--
-- mode, role and status hold the lower-case names of tandem_model's enums. They have no CHECK:
-- SQLite cannot change a CHECK without rebuilding the table, so a new status would need one;
-- the store refuses an unknown value when it reads it instead.
--
-- The other tables name their connection with ON DELETE CASCADE (the store turns
-- foreign_keys on), so that deleting a connection deletes everything kept for it.

CREATE TABLE connections (
    id                 TEXT PRIMARY KEY,
    -- Unique on this node, whatever the case: "Acme" and "ACME" would be the same connection
    -- to the people choosing between them.
    name               TEXT NOT NULL COLLATE NOCASE UNIQUE,
    description        TEXT NOT NULL,
    -- 'basic' or 'script'; fixed when the connection is created.
    mode               TEXT NOT NULL,
    -- 'initiator', 'acceptor' or 'local'.
    role               TEXT NOT NULL,
    local_short_name   TEXT NOT NULL,
    remote_short_name  TEXT NOT NULL,
    -- The remote node, known once the invitation was accepted: all of node_id, name, tracker
    -- and public_key, or none (url stays NULL for a private remote).
    remote_node_id     TEXT,
    remote_name        TEXT,
    remote_url         TEXT,
    remote_tracker     TEXT,
    remote_public_key  TEXT,
    private            INTEGER NOT NULL,
    -- 'pending', 'active', 'deactivated' or 'error'.
    status             TEXT NOT NULL,
    status_reason      TEXT,
    remote_paused      INTEGER NOT NULL,
    -- Only on the initiator: when its invitation code expires, and when it was used.
    invitation_expires INTEGER,
    invitation_used    INTEGER,
    -- The connection's root key sealed with the node's master key; never in the clear.
    sealed_root        TEXT,
    outgoing_script    TEXT NOT NULL,
    incoming_script    TEXT NOT NULL,
    created            INTEGER NOT NULL,
    updated            INTEGER NOT NULL,
    last_sync          INTEGER,
    version            INTEGER NOT NULL,
    -- The seq of the last message queued for the remote. Kept here rather than taken as
    -- max(seq) + 1 of the outbox, which would reuse a seq once the remote acknowledged every
    -- queued message (and the remote would drop the new message as one it already had).
    -- Not part of the connection's version: queueing a message is not an edit.
    last_outbound_seq  INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Messages waiting for the remote's acknowledgement, read in seq order per connection.
-- payload is JSON text.
CREATE TABLE connection_outbox (
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    created       INTEGER NOT NULL,
    PRIMARY KEY (connection_id, seq)
) STRICT, WITHOUT ROWID;

-- The seq of the last message handled from the remote; no row yet means 0.
CREATE TABLE connection_inbox (
    connection_id TEXT PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    last_seq      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Request nonces seen until they expire: a request repeating a live one is a replay. Expired
-- rows are swept a few at a time by the writes that add nonces.
CREATE TABLE connection_nonces (
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    nonce         TEXT NOT NULL,
    expires       INTEGER NOT NULL,
    UNIQUE (connection_id, nonce)
) STRICT;
CREATE INDEX connection_nonces_by_expiry ON connection_nonces (expires);
