-- Each item has a type (Task, Bug, Story, Epic, Sub-task) and may belong to a parent item (a
-- sub-task's task, a story's epic), as sync rules written for Jira map them
-- (`issue.typeName`, `issue.parentId`). Items made before are Tasks without a parent.
ALTER TABLE items ADD COLUMN item_type TEXT NOT NULL DEFAULT 'Task';
-- The parent's key (PROJECT-NUMBER); NULL for none.
ALTER TABLE items ADD COLUMN parent TEXT;
