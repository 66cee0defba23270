-- A connection's scope: which local items its remote may link to, read and write. Set by the
-- local admin; a connection without a row here reaches its default scope (the projects its
-- incoming rules create in and those its triggers select, worked out by the node).
-- Exactly one of `projects` (a JSON array of project keys or ServiceNow table names) and
-- `query` (in the node's query language) is set.
CREATE TABLE connection_scopes (
    connection_id TEXT PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    projects      TEXT,
    query         TEXT,
    CHECK ((projects IS NULL) != (query IS NULL))
) STRICT;
