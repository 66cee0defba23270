-- What an API token may do: 'read' (GET only), 'sync' (reads and sync operations) or 'admin'
-- (everything). Tokens made before scopes existed had every right, and keep it.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin'
    CHECK (scope IN ('read', 'sync', 'admin'));
