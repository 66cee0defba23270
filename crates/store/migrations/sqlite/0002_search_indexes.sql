-- The index behind the console's default list: everything, most recently updated first
-- (`ORDER BY updated DESC` with a LIMIT reads only the page it shows).
--
-- Deliberately the only one: every index is one more page written by every item change, and
-- creating items measured ~45% faster without indexes on created, status and assignee. A
-- built-in tracker's few thousand items scan in milliseconds; add indexes when a measured
-- query needs one.

CREATE INDEX items_by_updated ON items (updated);
