-- Comment and attachment ids are never handed out twice, even after the newest one is deleted:
-- sync links (comment_twins, attachment_twins) name them, and a link a deleted one leaves must
-- never point at a new one. Without AUTOINCREMENT SQLite reuses the largest rowid, so the last
-- id handed out is kept here (seeded past every id in use or named by a link).
CREATE TABLE id_high (
    name TEXT PRIMARY KEY,
    last INTEGER NOT NULL
) STRICT;
INSERT INTO id_high (name, last) VALUES
    ('comments', max(
        (SELECT coalesce(max(id), 0) FROM comments),
        (SELECT coalesce(max(local_id), 0) FROM comment_twins))),
    ('attachments', max(
        (SELECT coalesce(max(id), 0) FROM attachments),
        (SELECT coalesce(max(local_id), 0) FROM attachment_twins)));
