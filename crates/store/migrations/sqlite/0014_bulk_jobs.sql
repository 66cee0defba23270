-- Bulk jobs (Bulk Exalate, Bulk Unexalate, Sync again of a connection, Clean-up): kept so that a
-- node that stops half-way takes each up again, under the same id, from `resume` (the kind's
-- own resume point; every item before it is counted in done / failed).
CREATE TABLE bulk_jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL CHECK (kind IN ('exalate', 'unexalate', 'sync_again', 'clean_up')),
    connection_id    TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    trigger_id       INTEGER,
    state            TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed', 'cancelled')),
    done             INTEGER NOT NULL DEFAULT 0,
    total            INTEGER NOT NULL DEFAULT 0,
    failed           INTEGER NOT NULL DEFAULT 0,
    resume           TEXT,
    started          INTEGER NOT NULL,
    updated          INTEGER NOT NULL,
    finished         INTEGER,
    error            TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX bulk_jobs_by_connection ON bulk_jobs (connection_id, id);
CREATE INDEX bulk_jobs_running ON bulk_jobs (state) WHERE state = 'running';
