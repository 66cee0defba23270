-- Tandem's first SQLite schema: node settings, console users and API tokens, and the built-in
-- tracker (projects, items, comments, attachments, history and the event outbox).
--
-- Conventions: times are INTEGER unix milliseconds (UTC); tables are STRICT; an item is named by
-- (project, number), which never changes.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created       INTEGER NOT NULL
) STRICT;

-- Only a hash of the session cookie is stored.
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created    INTEGER NOT NULL,
    expires    INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_by_expiry ON sessions (expires);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Only a hash of the bearer token is stored.
CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created    INTEGER NOT NULL,
    last_used  INTEGER,
    revoked    INTEGER
) STRICT;

-- item_count numbers the items: the next item of the project gets item_count + 1.
CREATE TABLE projects (
    key         TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    created     INTEGER NOT NULL,
    item_count  INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE items (
    id             INTEGER PRIMARY KEY,
    project        TEXT NOT NULL REFERENCES projects (key),
    number         INTEGER NOT NULL,
    summary        TEXT NOT NULL,
    description    TEXT NOT NULL,
    -- The status's display name: 'To Do', 'In Progress', 'Done'.
    status         TEXT NOT NULL,
    -- Urgency rank: 5 Highest, 4 High, 3 Medium, 2 Low, 1 Lowest ("priority > Medium" = more urgent).
    priority       INTEGER NOT NULL,
    assignee_name  TEXT,
    assignee_email TEXT,
    reporter_name  TEXT,
    reporter_email TEXT,
    -- JSON array of strings, sorted and without duplicates.
    labels         TEXT NOT NULL DEFAULT '[]',
    -- JSON object, fields in the order they were first set.
    custom_fields  TEXT NOT NULL DEFAULT '{}',
    created        INTEGER NOT NULL,
    updated        INTEGER NOT NULL,
    version        INTEGER NOT NULL,
    UNIQUE (project, number)
) STRICT;

CREATE TABLE comments (
    id           INTEGER PRIMARY KEY,
    item_id      INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    author_name  TEXT NOT NULL,
    author_email TEXT,
    body         TEXT NOT NULL,
    internal     INTEGER NOT NULL,
    created      INTEGER NOT NULL,
    edited       INTEGER
) STRICT;
CREATE INDEX comments_by_item ON comments (item_id, id);

-- Metadata here, bytes apart, so that listing an item's attachments never reads the bytes.
CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    item_id      INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    filename     TEXT NOT NULL,
    mime_type    TEXT NOT NULL,
    size         INTEGER NOT NULL,
    -- Lower-case hex SHA-256 of the bytes.
    sha256       TEXT NOT NULL,
    author_name  TEXT NOT NULL,
    author_email TEXT,
    created      INTEGER NOT NULL
) STRICT;
CREATE INDEX attachments_by_item ON attachments (item_id, id);

CREATE TABLE attachment_bytes (
    attachment_id INTEGER PRIMARY KEY REFERENCES attachments (id) ON DELETE CASCADE,
    bytes         BLOB NOT NULL
) STRICT;

-- One row per field that changed; empty values are NULL.
CREATE TABLE history (
    id         INTEGER PRIMARY KEY,
    item_id    INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    field      TEXT NOT NULL,
    from_value TEXT,
    to_value   TEXT
) STRICT;
CREATE INDEX history_by_item ON history (item_id, id);

-- The transactional outbox the sync engine reads in seq order. Written in the same transaction
-- as the change; AUTOINCREMENT so that a seq is never reused. Names the item by key so that
-- reading events needs no join.
CREATE TABLE events (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id  INTEGER NOT NULL,
    project  TEXT NOT NULL,
    number   INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    at       INTEGER NOT NULL,
    actor    TEXT NOT NULL,
    via_sync TEXT,
    version  INTEGER NOT NULL
) STRICT;
