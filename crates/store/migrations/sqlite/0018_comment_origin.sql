-- A comment sync copied from a remote one keeps where it came from and who wrote it there:
-- the remote side's short name and the original author. The comment's own author stays who
-- the rules wrote it as. NULL for comments written on this node.
ALTER TABLE comments ADD COLUMN synced_from TEXT;
ALTER TABLE comments ADD COLUMN origin_author_name TEXT;
ALTER TABLE comments ADD COLUMN origin_author_email TEXT;
