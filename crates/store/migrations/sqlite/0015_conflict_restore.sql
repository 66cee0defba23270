-- Conflicts per connection, and the restore of a losing value.
--
-- `restored` is when an admin wrote the value a conflict overwrote back to its item (unix
-- milliseconds; NULL while not restored): a normal edit of the item, which syncs out, so the
-- record stays as it was and only says it was acted on.
ALTER TABLE conflicts ADD COLUMN restored INTEGER;
-- A connection's conflicts, newest (highest id) first, a page at a time: read backwards off
-- this index from the last id of the previous page. It replaces the one on connection_id
-- alone, which served only deleting a connection (this one does too).
DROP INDEX conflicts_by_connection;
CREATE INDEX conflicts_by_connection ON conflicts (connection_id, id);
