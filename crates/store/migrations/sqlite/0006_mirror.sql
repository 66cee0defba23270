-- Mirror links: on a node that sits on an external tracker (ServiceNow), which store item,
-- comment or attachment mirrors which of the tracker's records, journal entries and
-- attachments. Reading the tracker again looks the tracker's id up here, so that a record seen
-- twice is mirrored once.
--
-- Conventions as in 0001 and 0004: tables are STRICT; kind holds the lower-case name of
-- tandem_model::MirrorKind ('record', 'comment' or 'attachment') without CHECK (see 0003): the
-- store refuses an unknown value when it reads it. The item is named by (project, number), as
-- in twins.
--
-- tracker names the tracker and table ('servicenow:incident'); external_id is the tracker's id
-- (a record sys_id, a journal entry id, an attachment sys_id); local_id is the comment's or
-- attachment's id in the store, 0 for a record link.
--
-- Deleting a comment or attachment deletes the links to it (the triggers below): comment and
-- attachment ids are rowids, which SQLite hands out again once the highest one is deleted, so a
-- link left behind could come to name another comment. A link that names no comment or
-- attachment all the same (one set by hand) is stale, and the store replaces it when the
-- tracker object is mirrored again.

CREATE TABLE mirror_links (
    tracker     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    external_id TEXT NOT NULL,
    project     TEXT NOT NULL,
    number      INTEGER NOT NULL,
    local_id    INTEGER NOT NULL,
    -- One store object per tracker object.
    PRIMARY KEY (tracker, kind, external_id),
    -- A link is of an item that exists.
    FOREIGN KEY (project, number) REFERENCES items (project, number) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
-- An item's links on one tracker (and the foreign key check when an item goes).
CREATE INDEX mirror_links_by_item ON mirror_links (project, number, tracker, kind, local_id);

-- The item of a deleted comment or attachment is looked up by its row id; when the item itself
-- is being deleted, its links go with it through the foreign key instead.
CREATE TRIGGER mirror_links_forget_comment AFTER DELETE ON comments
BEGIN
    DELETE FROM mirror_links
    WHERE kind = 'comment' AND local_id = OLD.id
      AND (project, number) = (SELECT project, number FROM items WHERE id = OLD.item_id);
END;

CREATE TRIGGER mirror_links_forget_attachment AFTER DELETE ON attachments
BEGIN
    DELETE FROM mirror_links
    WHERE kind = 'attachment' AND local_id = OLD.id
      AND (project, number) = (SELECT project, number FROM items WHERE id = OLD.item_id);
END;
