-- What the node last agreed with the tracker for a mirrored record: the record's columns as a
-- JSON object, the base of the three-way merge between the tracker's changes and the mirror's.
-- Only record links carry one; NULL until the first agreement is stored.
ALTER TABLE mirror_links ADD COLUMN snapshot TEXT;
