-- The key each side's admin knows a twinned item by, where it is not the item's key: a
-- ServiceNow record's number (INC0010005) for the mirror item INC-9. `remote_display_key` is
-- what the remote last said of its item (NULL: nothing, or an older remote that does not say);
-- `display_key_sent` is what this side last said of its own, so a number that comes after the
-- first sync is told once. Only shown and typed: twins, links and routing keep the keys.
ALTER TABLE twins ADD COLUMN remote_display_key TEXT;
ALTER TABLE twins ADD COLUMN display_key_sent TEXT;
