-- Per-field versions of every twin (tandem_model::FieldClocks): how two nodes editing one item
-- concurrently settle each field the same way, and know when an edit overwrote one the other
-- side had not seen. JSON text, {"field": [version, seen]}, written in the same transaction as
-- the replica it stamps.
ALTER TABLE twins ADD COLUMN clock TEXT NOT NULL DEFAULT '{}';
-- 1 when this side brought the item under sync: on a local connection (both sides one node)
-- it is what makes one of the two twins win ties; elsewhere the connection's initiator does.
ALTER TABLE twins ADD COLUMN leads INTEGER NOT NULL DEFAULT 0;
