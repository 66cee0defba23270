-- Issue 16: the project new items from the remote go to, and errors the remote reported.
--
-- connections.target_project is the receiving admin's choice of where a first sync creates
-- its item (a project key; on a node that serves ServiceNow, a synced table). The default
-- incoming rules read it when they run (`connection.targetProject`), so a project made after
-- the connection is a choice away. NULL: not chosen yet, and a first sync that the rules
-- leave without a project fails saying so.
ALTER TABLE connections ADD COLUMN target_project TEXT;

-- sync_errors.remote_error_id is set on an error the remote reported about this node's item
-- (the remote could not apply its change): the id of the error on the remote's Errors page,
-- where it is retried. NULL for this node's own errors.
ALTER TABLE sync_errors ADD COLUMN remote_error_id INTEGER;
-- Open reported errors per item, resolved when the remote applies a change of it.
CREATE INDEX sync_errors_reported ON sync_errors (connection_id, project, number)
    WHERE remote_error_id IS NOT NULL AND resolved IS NULL;
