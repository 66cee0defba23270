-- Indexes for the searches the console runs most: everything newest first, one project's open
-- items, one person's items.

CREATE INDEX items_by_updated ON items (updated);
CREATE INDEX items_by_created ON items (created);
CREATE INDEX items_by_status ON items (project, status);
CREATE INDEX items_by_assignee ON items (assignee_name);
