-- What the sync engine keeps: twins (a local item linked to a remote one by a connection), the
-- comment and attachment twins under them, the requests received from remotes, sync errors,
-- conflicts and triggers.
--
-- Conventions as in 0001 and 0003: times are INTEGER unix milliseconds (UTC); tables are
-- STRICT; flags are INTEGER 0/1; connection ids are uuids as lower-case hyphenated TEXT. Enum
-- columns (state, impact) hold the lower-case names of tandem_model's enums, without CHECK (see
-- 0003): the store refuses an unknown value when it reads it.
--
-- A local item is named by (project, number), as in `events`: an item's key never changes, the
-- store's callers name items by key, and the connection's twins list in (project, number) order
-- straight off an index, numbers compared as numbers (OPS-2 before OPS-10). Storing items.id
-- instead would make every lookup and every page a join.
--
-- Every table names its connection with ON DELETE CASCADE (the store turns foreign_keys on),
-- so that deleting a connection deletes everything kept for it.

CREATE TABLE twins (
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    project       TEXT NOT NULL,
    number        INTEGER NOT NULL,
    -- The remote item's key; NULL until the remote acknowledges the first sync.
    remote_key    TEXT,
    -- 'active' or 'stopped'.
    state         TEXT NOT NULL,
    -- The last replicas sent and received (JSON text).
    last_sent     TEXT,
    last_received TEXT,
    created       INTEGER NOT NULL,
    last_sync     INTEGER,
    -- One twin per item and connection. The index also serves lookups by local key and pages
    -- of a connection's twins in key order.
    UNIQUE (connection_id, project, number),
    -- A twin is of an item that exists.
    FOREIGN KEY (project, number) REFERENCES items (project, number) ON DELETE CASCADE
) STRICT;
-- A remote item is linked to one local item per connection; twins without a remote key yet do
-- not clash with each other.
CREATE UNIQUE INDEX twins_by_remote ON twins (connection_id, remote_key)
    WHERE remote_key IS NOT NULL;
-- An item's twins across connections (and the foreign key check when an item goes).
CREATE INDEX twins_by_item ON twins (project, number);

-- Comment and attachment twins hang off their item's twin: deleting the twin (or, through it,
-- the connection) deletes them. local_id is the local comment's or attachment's id; remote_id
-- the remote's, as text. Each side's id is linked to one of the other's, per item and
-- connection.
CREATE TABLE comment_twins (
    connection_id TEXT NOT NULL,
    project       TEXT NOT NULL,
    number        INTEGER NOT NULL,
    local_id      INTEGER NOT NULL,
    remote_id     TEXT NOT NULL,
    -- 'local' or 'remote': which side wrote the original (the merge edits only its copies).
    origin        TEXT NOT NULL,
    PRIMARY KEY (connection_id, project, number, local_id),
    UNIQUE (connection_id, project, number, remote_id),
    FOREIGN KEY (connection_id, project, number)
        REFERENCES twins (connection_id, project, number) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE attachment_twins (
    connection_id TEXT NOT NULL,
    project       TEXT NOT NULL,
    number        INTEGER NOT NULL,
    local_id      INTEGER NOT NULL,
    remote_id     TEXT NOT NULL,
    -- 'local' or 'remote': which side wrote the original (the merge edits only its copies).
    origin        TEXT NOT NULL,
    PRIMARY KEY (connection_id, project, number, local_id),
    UNIQUE (connection_id, project, number, remote_id),
    FOREIGN KEY (connection_id, project, number)
        REFERENCES twins (connection_id, project, number) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- Messages received from a connection's remote, stored before they are acknowledged and applied
-- later. AUTOINCREMENT so that an id is never reused: sync errors name the request they are
-- about. seq is the remote's message seq, received in order without gaps.
CREATE TABLE sync_requests (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    -- The remote item the request is about; requests of one remote item apply in order.
    remote_key    TEXT,
    -- JSON text.
    payload       TEXT NOT NULL,
    -- 'pending', 'applied' or 'failed'.
    state         TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    received      INTEGER NOT NULL,
    updated       INTEGER NOT NULL,
    UNIQUE (connection_id, seq)
) STRICT;
-- The requests still open (pending or failed), by the group they apply in order with. A
-- request may run when no earlier request of its group is open: finding that out reads only
-- open requests, however many applied ones have piled up. IS-comparisons on remote_key use it
-- too, so requests without a remote key form their own group per connection.
CREATE INDEX sync_requests_open ON sync_requests (connection_id, remote_key, id)
    WHERE state IN ('pending', 'failed');
-- The pending requests, oldest first: where the runner starts.
CREATE INDEX sync_requests_pending ON sync_requests (id) WHERE state = 'pending';

-- Sync errors as the Errors page lists them, newest (highest id) first. An error may be about
-- the whole node (no connection), a connection, or one item; the item is named by key, and is
-- not required to exist (creating it may be what failed). project and number are both set or
-- both NULL. request_id names the incoming request that failed, if one did.
CREATE TABLE sync_errors (
    id            INTEGER PRIMARY KEY,
    -- 'item', 'connection' or 'node'.
    impact        TEXT NOT NULL,
    connection_id TEXT REFERENCES connections (id) ON DELETE CASCADE,
    project       TEXT,
    number        INTEGER,
    remote_key    TEXT,
    request_id    INTEGER REFERENCES sync_requests (id) ON DELETE SET NULL,
    at            INTEGER NOT NULL,
    message       TEXT NOT NULL,
    script_trace  TEXT,
    resolved      INTEGER
) STRICT;
-- The unresolved errors, newest first: what the Errors page shows by default.
CREATE INDEX sync_errors_unresolved ON sync_errors (id) WHERE resolved IS NULL;
CREATE INDEX sync_errors_by_connection ON sync_errors (connection_id);
-- For the foreign key: deleting a request looks up the errors naming it.
CREATE INDEX sync_errors_by_request ON sync_errors (request_id) WHERE request_id IS NOT NULL;

-- Concurrent edits of one field: the value kept and the value overwritten, so that neither is
-- lost. Listed per local item, newest (highest id) first. local_value and remote_value are JSON
-- text.
CREATE TABLE conflicts (
    id            INTEGER PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    project       TEXT NOT NULL,
    number        INTEGER NOT NULL,
    field         TEXT NOT NULL,
    local_value   TEXT NOT NULL,
    remote_value  TEXT NOT NULL,
    kept_local    INTEGER NOT NULL,
    at            INTEGER NOT NULL
) STRICT;
CREATE INDEX conflicts_by_item ON conflicts (project, number, id);
CREATE INDEX conflicts_by_connection ON conflicts (connection_id);

-- Queries that bring matching items under sync on a connection, oldest (lowest id) first.
CREATE TABLE triggers (
    id            INTEGER PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    query         TEXT NOT NULL,
    active        INTEGER NOT NULL,
    note          TEXT NOT NULL,
    created       INTEGER NOT NULL
) STRICT;
CREATE INDEX triggers_by_connection ON triggers (connection_id, id);
